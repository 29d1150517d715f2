"""Translations and their steps: assigning, doing in order, finishing."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from trialdm.auth.models import User
from trialdm.auth.permissions import Principal
from trialdm.core.errors import (
    N_,
    Conflict,
    ErrorCollector,
    Forbidden,
    Message,
    ValidationFailed,
)
from trialdm.core.models import utcnow
from trialdm.core.scoping import require_site
from trialdm.core.versions import check_version
from trialdm.sites.queries import get_site
from trialdm.translation.models import (
    Material,
    SegmentTranslation,
    Translation,
    TranslationComment,
    TranslationStep,
)
from trialdm.translation.operations.common import (
    BACK_STEPS,
    STEP_PERMISSION,
    TEXT_STEPS,
    four_eyes_conflict,
    step_role,
    user_holds,
)
from trialdm.translation.operations.materials import add_steps, stored_instrument_version


def start_translation(
    session: Session, material: Material, data: Mapping[str, Any], actor: Principal
) -> Translation:
    site_code = data["site"]
    errors = ErrorCollector()
    site = get_site(session, site_code)
    if site is None:
        errors.add("site", Message(N_("Unknown site '%(site)s'."), site=site_code))
    errors.raise_if_any()
    require_site(site_code)
    workflow = current_app.config["TRANSLATION_WORKFLOWS"][material.category]
    for kind in data.get("assignees") or {}:
        if kind not in workflow:
            errors.add(
                "assignees",
                Message(
                    N_("'%(kind)s' is not a step of a %(category)s translation."),
                    kind=kind,
                    category=material.category,
                ),
            )
    language = data["language"].strip()
    if language == "en":
        errors.add("language", N_("The source is English; choose the site's language."))
    elif language not in site.languages:
        errors.add(
            "language",
            Message(
                N_("%(site)s works in %(languages)s, not '%(language)s'."),
                site=site_code,
                languages=", ".join(site.languages),
                language=language,
            ),
        )
    number = data.get("version") or material.current_version
    version = next((v for v in material.versions if v.number == number), None)
    if version is None:
        errors.add("version", Message(N_("The material has no version %(number)s."), number=number))
    errors.raise_if_any()
    existing = session.scalar(
        select(Translation).where(
            Translation.version_id == version.id,
            Translation.site_code == site_code,
            Translation.language == language,
        )
    )
    if existing is not None:
        raise Conflict(
            Message(
                N_(
                    "Version %(number)s is already being translated into '%(language)s' "
                    "at %(site)s."
                ),
                number=number,
                language=language,
                site=site_code,
            ),
            errors={"language": [N_("A translation exists; use it.")]},
        )
    translation = Translation(
        site_code=site_code, material_id=material.id, version=version, language=language
    )
    session.add(translation)
    for segment in version.segments:
        translation.segments.append(
            SegmentTranslation(site_code=site_code, key=segment.key, position=segment.position)
        )
    add_steps(translation, material)
    session.flush()
    for step in translation.steps:
        _assign_from(session, translation, step, data.get("assignees") or {}, errors)
    errors.raise_if_any()
    session.flush()
    return translation


def _assign_from(session, translation, step, assignees: Mapping[str, Any], errors) -> None:
    wanted = assignees.get(step.kind)
    if wanted is None:
        return
    try:
        assign_step(session, translation, step, wanted, step.version_id)
    except ValidationFailed as exc:
        for field, messages in exc.errors.items():
            for message in messages:
                errors.add(f"assignees.{step.kind}.{field}", message)


def get_step(translation: Translation, step_id: int) -> TranslationStep:
    step = next((s for s in translation.steps if s.id == step_id), None)
    if step is None:
        from trialdm.core.errors import NotFound

        raise NotFound(N_("No such step of this translation."))
    return step


def assign_step(
    session: Session,
    translation: Translation,
    step: TranslationStep,
    data: Mapping[str, Any],
    version: int | None,
) -> TranslationStep:
    """Set a step's assignee and due date (site leads). The assignee must hold the
    step's role at the translation's site, and nobody both forward-translates and
    reviews one translation."""
    require_site(translation.site_code)
    check_version(step, version)
    errors = ErrorCollector()
    if translation.state != "in_progress":
        errors.add("step", Message(N_("The translation is %(state)s."), state=translation.state))
    if step.state == "done":
        errors.add("step", N_("The step is done; it cannot be reassigned."))
    if "assignee_id" in data and data["assignee_id"] is not None:
        user = session.get(User, data["assignee_id"])
        role = step_role(step.kind)
        if user is None or not user.active:
            errors.add("assignee_id", N_("No such active user."))
        elif not user_holds(user, STEP_PERMISSION[role], translation.site_code):
            errors.add(
                "assignee_id",
                Message(
                    N_("A %(kind)s step needs a %(role)s of %(site)s."),
                    kind=step.kind,
                    role=role,
                    site=translation.site_code,
                ),
            )
        elif (other := four_eyes_conflict(translation, step.kind, user.id)) is not None:
            errors.add(
                "assignee_id",
                Message(
                    N_(
                        "The same person may not do both the %(other)s and the "
                        "%(kind)s of one translation."
                    ),
                    other=other.kind,
                    kind=step.kind,
                ),
            )
    due = data.get("due_date")
    if due is not None and due < date.today():
        errors.add("due_date", N_("The due date is in the past."))
    errors.raise_if_any()
    if "assignee_id" in data:
        step.assignee_id = data["assignee_id"]
    if "due_date" in data:
        step.due_date = due
    session.flush()
    return step


def _require_assignee(step: TranslationStep, actor: Principal, site_code: str) -> None:
    role = step_role(step.kind)
    if not actor.has(STEP_PERMISSION[role], site_code):
        raise Forbidden(
            Message(
                N_("A %(kind)s step is done by a %(role)s of %(site)s."),
                kind=step.kind,
                role=role,
                site=site_code,
            ),
            errors={
                "role": [
                    Message(N_("You are not a %(role)s of %(site)s."), role=role, site=site_code)
                ]
            },
        )
    if step.assignee_id != actor.user_id:
        raise Forbidden(
            N_("This step is assigned to someone else."),
            errors={"assignee": [N_("Only the assignee may work on this step.")]},
        )


def _require_order(translation: Translation, step: TranslationStep) -> None:
    unfinished = [
        s.kind for s in translation.steps if s.position < step.position and s.state != "done"
    ]
    if unfinished:
        raise ValidationFailed(
            Message(
                N_("Finish the earlier step(s) first: %(steps)s."), steps=", ".join(unfinished)
            ),
            errors={
                "step": [
                    Message(N_("Out of order: %(steps)s not done."), steps=", ".join(unfinished))
                ]
            },
        )


def _refuse_state(step: TranslationStep, action: str, allowed: tuple[str, ...]) -> None:
    if step.state not in allowed:
        raise ValidationFailed(
            Message(
                N_("Cannot %(action)s a step that is %(state)s."), action=action, state=step.state
            ),
            errors={
                "state": [
                    Message(
                        N_("%(action)s needs the step to be %(states)s."),
                        action=action,
                        states=" or ".join(allowed),
                    )
                ]
            },
        )


def transition_step(
    session: Session,
    translation: Translation,
    step: TranslationStep,
    action: str,
    actor: Principal,
    comment: str | None = None,
) -> TranslationStep:
    """start / submit (the assignee), complete / return (a reviewer of the site who
    is not the assignee and did not forward-translate when the step is the review)."""
    site_code = translation.site_code
    require_site(site_code, hide=True)
    if translation.state != "in_progress":
        raise ValidationFailed(
            Message(N_("The translation is %(state)s."), state=translation.state),
            errors={"state": [N_("Only translations in progress change.")]},
        )
    now = utcnow()
    if action == "start":
        _require_assignee(step, actor, site_code)
        _refuse_state(step, "start", ("pending", "returned"))
        _require_order(translation, step)
        step.state = "in_progress"
        step.started_at = step.started_at or now
    elif action == "submit":
        _require_assignee(step, actor, site_code)
        _refuse_state(step, "submit", ("in_progress",))
        _check_step_output(translation, step)
        step.state = "submitted"
        step.submitted_at = now
    elif action in ("complete", "return"):
        if not actor.has("translation.review", site_code):
            raise Forbidden(
                Message(
                    N_("Only a reviewer of %(site)s may %(action)s a step."),
                    site=site_code,
                    action=action,
                ),
                errors={
                    "role": [Message(N_("You are not a reviewer of %(site)s."), site=site_code)]
                },
            )
        _refuse_state(step, action, ("submitted",))
        _require_order(translation, step)
        if step.assignee_id == actor.user_id:
            raise ValidationFailed(
                N_("Someone other than the assignee accepts or returns a step."),
                errors={"step": [N_("You did this step yourself.")]},
            )
        # Accepting the review step is reviewing: not by whom the rule keeps apart from it.
        other = four_eyes_conflict(translation, "review", actor.user_id)
        if step.kind == "review" and other is not None:
            raise ValidationFailed(
                Message(
                    N_("The %(kind)s translator may not review the same translation."),
                    kind=other.kind,
                ),
                errors={
                    "step": [
                        Message(
                            N_("You did the %(kind)s step of this translation."), kind=other.kind
                        )
                    ]
                },
            )
        if action == "return":
            if not (comment and comment.strip()):
                raise ValidationFailed.field("comment", N_("Say why the step is returned."))
            step.state = "returned"
            step.submitted_at = None
        else:
            step.state = "done"
            step.completed_at = now
            step.completed_by_id = actor.user_id
    else:
        raise ValidationFailed.field("action", N_("Use start, submit, complete or return."))
    if comment and comment.strip():
        translation.comments.append(
            TranslationComment(
                site_code=site_code,
                translation_id=translation.id,
                step_id=step.id,
                author_id=actor.user_id,
                body=comment.strip(),
            )
        )
    session.flush()
    if all(s.state == "done" for s in translation.steps):
        _finish(session, translation)
    return step


def _check_step_output(translation: Translation, step: TranslationStep) -> None:
    if step.kind in TEXT_STEPS:
        missing = [s.key for s in translation.segments if not (s.text and s.text.strip())]
        stale = [s.key for s in translation.segments if s.needs_update]
        problems = ErrorCollector()
        if missing:
            problems.add(
                "segments", Message(N_("Not yet translated: %(keys)s."), keys=", ".join(missing))
            )
        if stale:
            problems.add(
                "segments", Message(N_("Source changed, update: %(keys)s."), keys=", ".join(stale))
            )
        problems.raise_if_any(N_("The translation is not complete."))
    if step.kind in BACK_STEPS:
        missing = [s.key for s in translation.segments if not s.back_translation]
        if missing:
            raise ValidationFailed(
                N_("The back translation is not complete."),
                errors={
                    "segments": [
                        Message(N_("No back translation: %(keys)s."), keys=", ".join(missing))
                    ]
                },
            )


def _finish(session: Session, translation: Translation) -> None:
    translation.state = "finished"
    translation.finished_at = utcnow()
    material = translation.material
    if material.kind == "questionnaire" and material.instrument_name:
        # The newest finished translation of an instrument into a language is its
        # labels; the instruments domain keeps them.
        from trialdm.instruments.operations import store_label_translations

        stored = stored_instrument_version(
            session,
            {
                "instrument_name": material.instrument_name,
                "instrument_version": material.instrument_version,
            },
            ErrorCollector(),
        )
        if stored is not None:  # a questionnaire names a stored version when created
            texts = {segment.key: segment.text or "" for segment in translation.segments}
            store_label_translations(session, stored, translation.language, texts)
    session.flush()


def write_segment(
    session: Session,
    translation: Translation,
    key: str,
    data: Mapping[str, Any],
    actor: Principal,
    version: int | None,
) -> SegmentTranslation:
    """Text of one segment, by the assignee of the step now in progress: the
    translation in forward, reconciliation and harmonisation; the back translation
    in back translation."""
    require_site(translation.site_code, hide=True)
    segment = next((s for s in translation.segments if s.key == key), None)
    if segment is None:
        from trialdm.core.errors import NotFound

        raise NotFound(N_("No such segment in this translation."))
    check_version(segment, version)
    step = next((s for s in translation.steps if s.state == "in_progress"), None)
    if step is None or step.kind not in TEXT_STEPS | BACK_STEPS:
        raise ValidationFailed(
            N_("No step that writes text is in progress."),
            errors={
                "step": [
                    N_(
                        "Start the forward, reconciliation, back translation or "
                        "harmonisation step first."
                    )
                ]
            },
        )
    _require_assignee(step, actor, translation.site_code)
    if step.kind in BACK_STEPS:
        if "back_translation" not in data:
            raise ValidationFailed.field(
                "back_translation", N_("This step writes the back translation.")
            )
        segment.back_translation = data["back_translation"]
    else:
        if "text" not in data:
            raise ValidationFailed.field("text", N_("This step writes the translated text."))
        segment.text = data["text"]
        segment.needs_update = False
    segment.updated_by_id = actor.user_id
    session.flush()
    return segment


def add_comment(
    session: Session, translation: Translation, data: Mapping[str, Any], actor: Principal
) -> TranslationComment:
    require_site(translation.site_code, hide=True)
    key = data.get("segment_key")
    if key is not None and key not in {s.key for s in translation.segments}:
        raise ValidationFailed.field(
            "segment_key", Message(N_("No segment '%(key)s' in this translation."), key=key)
        )
    step_id = data.get("step_id")
    if step_id is not None:
        get_step(translation, step_id)
    comment = TranslationComment(
        site_code=translation.site_code,
        translation_id=translation.id,
        step_id=step_id,
        segment_key=key,
        author_id=actor.user_id,
        body=data["body"].strip(),
    )
    translation.comments.append(comment)
    session.flush()
    return comment
