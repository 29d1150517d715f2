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
    Conflict,
    ErrorCollector,
    Forbidden,
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
        errors.add("site", f"Unknown site '{site_code}'.")
    errors.raise_if_any()
    require_site(site_code)
    workflow = current_app.config["TRANSLATION_WORKFLOWS"][material.category]
    for kind in data.get("assignees") or {}:
        if kind not in workflow:
            errors.add("assignees", f"'{kind}' is not a step of a {material.category} translation.")
    language = data["language"].strip()
    if language == "en":
        errors.add("language", "The source is English; choose the site's language.")
    elif language not in site.languages:
        errors.add(
            "language", f"{site_code} works in {', '.join(site.languages)}, not '{language}'."
        )
    number = data.get("version") or material.current_version
    version = next((v for v in material.versions if v.number == number), None)
    if version is None:
        errors.add("version", f"The material has no version {number}.")
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
            f"Version {number} is already being translated into '{language}' at {site_code}.",
            errors={"language": ["A translation exists; use it."]},
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

        raise NotFound("No such step of this translation.")
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
        errors.add("step", f"The translation is {translation.state}.")
    if step.state == "done":
        errors.add("step", "The step is done; it cannot be reassigned.")
    if "assignee_id" in data and data["assignee_id"] is not None:
        user = session.get(User, data["assignee_id"])
        role = step_role(step.kind)
        if user is None or not user.active:
            errors.add("assignee_id", "No such active user.")
        elif not user_holds(user, STEP_PERMISSION[role], translation.site_code):
            errors.add(
                "assignee_id",
                f"A {step.kind} step needs a {role} of {translation.site_code}.",
            )
        elif (other := four_eyes_conflict(translation, step.kind, user.id)) is not None:
            errors.add(
                "assignee_id",
                f"The same person may not do both the {other.kind} and the "
                f"{step.kind} of one translation.",
            )
    due = data.get("due_date")
    if due is not None and due < date.today():
        errors.add("due_date", "The due date is in the past.")
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
            f"A {step.kind} step is done by a {role} of {site_code}.",
            errors={"role": [f"You are not a {role} of {site_code}."]},
        )
    if step.assignee_id != actor.user_id:
        raise Forbidden(
            "This step is assigned to someone else.",
            errors={"assignee": ["Only the assignee may work on this step."]},
        )


def _require_order(translation: Translation, step: TranslationStep) -> None:
    unfinished = [
        s.kind for s in translation.steps if s.position < step.position and s.state != "done"
    ]
    if unfinished:
        raise ValidationFailed(
            f"Finish the earlier step(s) first: {', '.join(unfinished)}.",
            errors={"step": [f"Out of order: {', '.join(unfinished)} not done."]},
        )


def _refuse_state(step: TranslationStep, action: str, allowed: tuple[str, ...]) -> None:
    if step.state not in allowed:
        raise ValidationFailed(
            f"Cannot {action} a step that is {step.state}.",
            errors={"state": [f"{action} needs the step to be {' or '.join(allowed)}."]},
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
            f"The translation is {translation.state}.",
            errors={"state": ["Only translations in progress change."]},
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
                f"Only a reviewer of {site_code} may {action} a step.",
                errors={"role": [f"You are not a reviewer of {site_code}."]},
            )
        _refuse_state(step, action, ("submitted",))
        _require_order(translation, step)
        if step.assignee_id == actor.user_id:
            raise ValidationFailed(
                "Someone other than the assignee accepts or returns a step.",
                errors={"step": ["You did this step yourself."]},
            )
        # Accepting the review step is reviewing: not by whom the rule keeps apart from it.
        other = four_eyes_conflict(translation, "review", actor.user_id)
        if step.kind == "review" and other is not None:
            raise ValidationFailed(
                f"The {other.kind} translator may not review the same translation.",
                errors={"step": [f"You did the {other.kind} step of this translation."]},
            )
        if action == "return":
            if not (comment and comment.strip()):
                raise ValidationFailed.field("comment", "Say why the step is returned.")
            step.state = "returned"
            step.submitted_at = None
        else:
            step.state = "done"
            step.completed_at = now
            step.completed_by_id = actor.user_id
    else:
        raise ValidationFailed.field("action", "Use start, submit, complete or return.")
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
            problems.add("segments", f"Not yet translated: {', '.join(missing)}.")
        if stale:
            problems.add("segments", f"Source changed, update: {', '.join(stale)}.")
        problems.raise_if_any("The translation is not complete.")
    if step.kind in BACK_STEPS:
        missing = [s.key for s in translation.segments if not s.back_translation]
        if missing:
            raise ValidationFailed(
                "The back translation is not complete.",
                errors={"segments": [f"No back translation: {', '.join(missing)}."]},
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

        raise NotFound("No such segment in this translation.")
    check_version(segment, version)
    step = next((s for s in translation.steps if s.state == "in_progress"), None)
    if step is None or step.kind not in TEXT_STEPS | BACK_STEPS:
        raise ValidationFailed(
            "No step that writes text is in progress.",
            errors={
                "step": [
                    "Start the forward, reconciliation, back translation or "
                    "harmonisation step first."
                ]
            },
        )
    _require_assignee(step, actor, translation.site_code)
    if step.kind in BACK_STEPS:
        if "back_translation" not in data:
            raise ValidationFailed.field(
                "back_translation", "This step writes the back translation."
            )
        segment.back_translation = data["back_translation"]
    else:
        if "text" not in data:
            raise ValidationFailed.field("text", "This step writes the translated text.")
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
        raise ValidationFailed.field("segment_key", f"No segment '{key}' in this translation.")
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
