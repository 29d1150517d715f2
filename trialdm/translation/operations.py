"""Materials, translation workflows and transcripts: every change, with its rules.

Operations validate, flush and raise domain errors; they never commit. The actor
is passed in (the API gives the request's principal), so the same rules serve the
API, the demo loader and tests.

Refusals: a step done out of order or the same person forward-translating and
reviewing is 422 (the request is understood but breaks a rule); acting on work not
assigned to you or without the role the step needs is 403; another site's work
does not exist for you (404, through the site filter).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from trialdm.auth.models import User
from trialdm.auth.permissions import ALL_SITE_ROLES, ROLE_PERMISSIONS, Principal
from trialdm.config import TRANSLATION_STEP_ROLES
from trialdm.core.audit import audit_context, record_event
from trialdm.core.errors import (
    Conflict,
    ErrorCollector,
    Forbidden,
    ValidationFailed,
)
from trialdm.core.models import utcnow
from trialdm.core.scoping import SKIP_SCOPING, require_site
from trialdm.core.versions import check_version
from trialdm.participants.models import Participant
from trialdm.sites.queries import get_site
from trialdm.translation.models import (
    Material,
    MaterialVersion,
    PseudonymKeyEntry,
    SegmentTranslation,
    SourceSegment,
    Transcript,
    TranscriptCheck,
    TranscriptLine,
    Translation,
    TranslationComment,
    TranslationStep,
)
from trialdm.translation.pseudonymisation import KeyTerm, pseudonymise

STEP_PERMISSION = {"translator": "translation.write", "reviewer": "translation.review"}
# Steps that write the translated text, and the one that writes the back translation.
TEXT_STEPS = {"forward", "reconciliation", "harmonisation"}
BACK_STEPS = {"back_translation"}
# "The same person may not forward-translate and review the same translation."
FOUR_EYES = {"forward": {"review"}, "review": {"forward"}}
SEGMENT_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")


def step_role(kind: str) -> str:
    return TRANSLATION_STEP_ROLES[kind]


def user_holds(user: User, permission: str, site_code: str) -> bool:
    """Whether ``user`` holds a role granting ``permission`` at ``site_code``."""
    for membership in user.memberships:
        if permission not in ROLE_PERMISSIONS.get(membership.role, ()):
            continue
        if membership.role in ALL_SITE_ROLES or membership.site_code == site_code:
            return True
    return False


# Materials ----------------------------------------------------------------------------


def _check_segments(segments: list[Mapping[str, Any]], errors: ErrorCollector) -> None:
    if not segments:
        errors.add("segments", "Give at least one segment of English source text.")
    seen: set[str] = set()
    for index, segment in enumerate(segments):
        key = segment["key"]
        if not SEGMENT_KEY.match(key):
            errors.add("segments", f"Item {index + 1}: key '{key}' must be letters, digits, _.-")
        if key in seen:
            errors.add("segments", f"Item {index + 1}: key '{key}' is used twice.")
        seen.add(key)
        if not segment["text"].strip():
            errors.add("segments", f"Item {index + 1}: the text is empty.")


def _add_version(
    session: Session, material: Material, number: int, data: Mapping[str, Any], actor_id: int
) -> MaterialVersion:
    version = MaterialVersion(
        material=material, number=number, note=data.get("note"), created_by_id=actor_id
    )
    version.segments = [
        SourceSegment(key=segment["key"], position=index, text=segment["text"])
        for index, segment in enumerate(data["segments"])
    ]
    session.add(version)
    material.current_version = number
    return version


def _instrument_version(session: Session, data: Mapping[str, Any], errors: ErrorCollector):
    """The stored instrument version a questionnaire translates, if it is stored."""
    from trialdm.instruments.models import InstrumentVersion

    raw = str(data["instrument_version"]).strip()
    if not raw.isdigit():
        errors.add("instrument_version", "Instrument versions are whole numbers (1, 2, ...).")
        return None
    return session.scalar(
        select(InstrumentVersion).where(
            InstrumentVersion.name == data["instrument_name"],
            InstrumentVersion.version == int(raw),
        )
    )


def instrument_segments(instrument_version) -> list[dict[str, str]]:
    """The English labels of an instrument version as source segments, keyed as the
    instruments domain keys its label translations (``fields.<name>.label`` ...)."""
    from trialdm.instruments.queries import labels_for

    labels = labels_for(instrument_version, "en")
    segments: list[tuple[str, str | None]] = [
        ("title", labels["title"]),
        ("description", labels["description"]),
    ]
    for name, field in labels["fields"].items():
        for part in ("section", "label", "help"):
            segments.append((f"fields.{name}.{part}", field[part]))
        for value, text in field["choices"].items():
            segments.append((f"fields.{name}.choices.{value}", text))
    for name, text in labels["scores"].items():
        segments.append((f"scores.{name}.label", text))
    return [{"key": key, "text": text} for key, text in segments if text]


def create_material(session: Session, data: Mapping[str, Any], actor: Principal) -> Material:
    errors = ErrorCollector()
    data = dict(data)
    has_instrument = bool(data.get("instrument_name"))
    if has_instrument != bool(data.get("instrument_version")):
        errors.add("instrument_version", "Give the instrument name and version together.")
    elif has_instrument and data["kind"] != "questionnaire":
        errors.add("instrument_name", "Only questionnaires are linked to an instrument.")
    elif has_instrument:
        stored = _instrument_version(session, data, errors)
        if stored is None and not errors:
            errors.add(
                "instrument_name",
                f"No instrument '{data['instrument_name']}' version "
                f"{data['instrument_version']}; run 'trialdm instruments sync'.",
            )
        elif stored is not None and not data.get("segments"):
            data["segments"] = instrument_segments(stored)
    if "segments" not in data:
        data["segments"] = []
    _check_segments(data["segments"], errors)
    errors.raise_if_any()
    material = Material(
        title=data["title"].strip(),
        kind=data["kind"],
        category=data["category"],
        instrument_name=data.get("instrument_name"),
        instrument_version=str(data["instrument_version"]).strip() if has_instrument else None,
    )
    session.add(material)
    _add_version(session, material, 1, data, actor.user_id)
    session.flush()
    return material


def add_material_version(
    session: Session, material: Material, data: Mapping[str, Any], actor: Principal
) -> MaterialVersion:
    """A new English source version. Every site's translation of the previous version
    is carried over to the new one: unchanged segments keep their text, changed ones
    keep it flagged ``needs_update``, new ones start empty."""
    errors = ErrorCollector()
    _check_segments(data["segments"], errors)
    errors.raise_if_any()
    previous = material.versions[-1]
    old_source = {segment.key: segment.text for segment in previous.segments}
    version = _add_version(session, material, previous.number + 1, data, actor.user_id)
    session.flush()
    # Deliberately across sites: the trial-wide source changes every site's work.
    earlier = session.scalars(
        select(Translation)
        .where(Translation.version_id == previous.id, Translation.state != "superseded")
        .execution_options(**{SKIP_SCOPING: True})
    ).all()
    for old in earlier:
        _carry_over(session, old, version, old_source)
    session.flush()
    return version


def _carry_over(
    session: Session, old: Translation, version: MaterialVersion, old_source: dict[str, str]
) -> Translation:
    old_texts = {segment.key: segment for segment in old.segments}
    new = Translation(
        site_code=old.site_code,
        material_id=old.material_id,
        version=version,
        language=old.language,
        previous_id=old.id,
    )
    session.add(new)
    for segment in version.segments:
        before = old_texts.get(segment.key)
        unchanged = before is not None and old_source.get(segment.key) == segment.text
        new.segments.append(
            SegmentTranslation(
                site_code=old.site_code,
                key=segment.key,
                position=segment.position,
                text=before.text if before else None,
                back_translation=before.back_translation if before and unchanged else None,
                needs_update=before is not None and before.text is not None and not unchanged,
            )
        )
    _add_steps(new, version.material, assignees_from=old)
    old.state = "superseded"
    return new


def _add_steps(
    translation: Translation, material: Material, assignees_from: Translation | None = None
) -> None:
    workflows = current_app.config["TRANSLATION_WORKFLOWS"]
    earlier = {step.kind: step for step in assignees_from.steps} if assignees_from else {}
    for position, kind in enumerate(workflows[material.category], start=1):
        before = earlier.get(kind)
        translation.steps.append(
            TranslationStep(
                site_code=translation.site_code,
                position=position,
                kind=kind,
                state="pending",
                assignee_id=before.assignee_id if before else None,
            )
        )


# Translations -------------------------------------------------------------------------


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
    _add_steps(translation, material)
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
        else:
            for other in translation.steps:
                if other.kind in FOUR_EYES.get(step.kind, ()) and other.assignee_id == user.id:
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
        forward = next((s for s in translation.steps if s.kind == "forward"), None)
        if step.kind == "review" and forward is not None and forward.assignee_id == actor.user_id:
            raise ValidationFailed(
                "The forward translator may not review the same translation.",
                errors={"step": ["You forward-translated this translation."]},
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

        stored = _instrument_version(
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


# Transcripts --------------------------------------------------------------------------


def _expect_state(transcript: Transcript, action: str, *states: str) -> None:
    if transcript.state not in states:
        raise ValidationFailed(
            f"Cannot {action} a transcript that is {transcript.state}.",
            errors={"state": [f"{action} needs the transcript to be {' or '.join(states)}."]},
        )


def create_transcript(session: Session, data: Mapping[str, Any], actor: Principal) -> Transcript:
    """A transcript of a focus group or interview of your site, in the session's
    language unless another of the site's languages is given."""
    from trialdm.qualitative.models import QualitativeSession

    kind = data["session_kind"]
    record = session.scalar(
        select(QualitativeSession).where(
            QualitativeSession.id == data["session_id"],
            QualitativeSession.kind == kind,
            QualitativeSession.deleted_at.is_(None),
        )
    )
    if record is None:
        label = "focus group" if kind == "focus_group" else "interview"
        raise ValidationFailed.field("session_id", f"No such {label}.")
    site_code = record.site_code
    require_site(site_code)
    site = get_site(session, site_code)
    language = data.get("language") or record.language
    if not language:
        raise ValidationFailed.field("language", "The session has no language; give one.")
    if language not in site.languages:
        raise ValidationFailed.field(
            "language", f"{site_code} works in {', '.join(site.languages)}."
        )
    label = "FGD" if kind == "focus_group" else "Interview"
    transcript = Transcript(
        site_code=site_code,
        session_kind=kind,
        session_id=record.id,
        title=(data.get("title") or "").strip() or f"{label} {site_code} {record.date}",
        language=language,
        recorded_on=data.get("recorded_on") or record.date,
        state="recorded",
    )
    session.add(transcript)
    session.flush()
    return transcript


def _clean_text(text: str, field: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise ValidationFailed.field(field, "The text is empty.")
    if "\x00" in text:
        raise ValidationFailed.field(field, "The text contains NUL characters.")
    return text


def upload_verbatim(
    session: Session, transcript: Transcript, text: str, actor: Principal, expected: int | None
) -> Transcript:
    require_site(transcript.site_code, hide=True)
    check_version(transcript, expected)
    _expect_state(transcript, "upload the verbatim text of", "recorded", "transcribed")
    transcript.verbatim_text = _clean_text(text, "text")
    transcript.pseudonymised_text = None
    transcript.pseudonymisation_report = None
    transcript.transcribed_by_id = actor.user_id
    transcript.state = "transcribed"
    session.flush()
    return transcript


def key_terms(session: Session, site_code: str) -> list[KeyTerm]:
    entries = session.scalars(
        select(PseudonymKeyEntry).where(PseudonymKeyEntry.site_code == site_code)
    ).all()
    return [KeyTerm(entry.id, entry.term, entry.replacement) for entry in entries]


def refuse_key_terms(session: Session, site_code: str, text: str, field: str) -> None:
    """Refuse text written after pseudonymisation (the English translation, a corrected
    text, a check comment) that contains a term of the site's key, naming each with its
    line as the transcript numbers lines. The term is echoed, never its replacement:
    the person typed the one but may not see the key."""
    terms = key_terms(session, site_code)
    if not terms:
        return
    found = [
        (number, hit["found"])
        for number, line in enumerate(split_lines(text), start=1)
        for hit in pseudonymise(line, terms).replacements
    ]
    if found:
        raise ValidationFailed(
            f"The text contains {len(found)} name(s) or identifier(s) of the site's "
            "pseudonymisation key; write the participant number or placeholder used in the "
            "pseudonymised text instead.",
            errors={
                field: [
                    f"Line {number}: '{term}' is in the pseudonymisation key."
                    for number, term in found
                ]
            },
        )


def apply_pseudonymisation(
    session: Session, transcript: Transcript, actor: Principal
) -> Transcript:
    """Apply the site's key to the verbatim text: a draft, a report of every
    replacement and the capitalised tokens left that look like names. Nothing is
    final until a site lead confirms."""
    require_site(transcript.site_code, hide=True)
    _expect_state(transcript, "pseudonymise", "transcribed")
    terms = key_terms(session, transcript.site_code)
    if not terms:
        raise ValidationFailed.field(
            "key", f"The pseudonymisation key of {transcript.site_code} is empty."
        )
    result = pseudonymise(transcript.verbatim_text or "", terms)
    transcript.pseudonymised_text = result.text
    transcript.pseudonymisation_report = result.as_report()
    transcript.pseudonymised_by_id = actor.user_id
    session.flush()
    return transcript


def confirm_pseudonymisation(
    session: Session,
    transcript: Transcript,
    data: Mapping[str, Any],
    actor: Principal,
    expected: int | None,
) -> Transcript:
    """Accept the (possibly corrected) pseudonymised text and delete the verbatim
    text, recording that it was deleted (never its content)."""
    require_site(transcript.site_code, hide=True)
    check_version(transcript, expected)
    _expect_state(transcript, "confirm the pseudonymisation of", "transcribed")
    if transcript.pseudonymised_text is None:
        raise ValidationFailed.field("pseudonymisation", "Apply the key first.")
    report = dict(transcript.pseudonymisation_report or {})
    flags = report.get("flags", [])
    if flags and not data.get("flags_reviewed"):
        raise ValidationFailed(
            f"{len(flags)} token(s) that look like names are flagged; check them, correct the "
            "text if needed and confirm with flags_reviewed.",
            errors={"flags_reviewed": [f"Review the {len(flags)} flagged token(s) first."]},
        )
    if data.get("text") is not None:
        corrected = _clean_text(data["text"], "text")
        refuse_key_terms(session, transcript.site_code, corrected, "text")
        transcript.pseudonymised_text = corrected
    report["confirmed_by"] = actor.user_id
    report["flags_confirmed"] = len(report.get("flags", []))
    transcript.pseudonymisation_report = report
    transcript.verbatim_text = None
    transcript.verbatim_deleted_at = utcnow()
    transcript.state = "pseudonymised"
    session.flush()
    with audit_context(reason="Verbatim text deleted once pseudonymisation was confirmed"):
        record_event(
            session,
            "verbatim_deleted",
            "transcripts",
            transcript.id,
            transcript.site_code,
            {
                "replacements": len(report.get("replacements", [])),
                "flags": len(report.get("flags", [])),
            },
        )
    return transcript


def upload_english(
    session: Session, transcript: Transcript, text: str, actor: Principal, expected: int | None
) -> Transcript:
    require_site(transcript.site_code, hide=True)
    check_version(transcript, expected)
    _expect_state(transcript, "upload the English translation of", "pseudonymised", "translated")
    if transcript.state == "translated" and any(
        c.round == transcript.check_round for c in transcript.checks
    ):
        raise ValidationFailed.field(
            "state", "Checking has begun; a checker must return it before it changes."
        )
    english = _clean_text(text, "text")
    refuse_key_terms(session, transcript.site_code, english, "text")
    transcript.english_text = english
    transcript.translated_by_id = actor.user_id
    transcript.state = "translated"
    session.flush()
    return transcript


def check_transcript(
    session: Session, transcript: Transcript, data: Mapping[str, Any], actor: Principal
) -> TranscriptCheck:
    """Two different reviewers each approve the English; either may return it."""
    require_site(transcript.site_code, hide=True)
    _expect_state(transcript, "check", "translated")
    if transcript.translated_by_id == actor.user_id:
        raise ValidationFailed.field("reviewer", "You translated this transcript; others check it.")
    this_round = [c for c in transcript.checks if c.round == transcript.check_round]
    if any(c.reviewer_id == actor.user_id for c in this_round):
        raise ValidationFailed.field(
            "reviewer", "You have checked this translation; a second, different reviewer must."
        )
    decision = data["decision"]
    comments = (data.get("comments") or "").strip() or None
    if decision == "return" and not comments:
        raise ValidationFailed.field("comments", "Say what needs to change.")
    if comments:
        refuse_key_terms(session, transcript.site_code, comments, "comments")
    check = TranscriptCheck(
        site_code=transcript.site_code,
        transcript_id=transcript.id,
        round=transcript.check_round,
        reviewer_id=actor.user_id,
        decision=decision,
        comments=comments,
    )
    session.add(check)
    transcript.checks.append(check)
    if decision == "return":
        transcript.state = "pseudonymised"
        transcript.check_round += 1
    elif len({c.reviewer_id for c in this_round if c.decision == "approve"} | {actor.user_id}) >= 2:
        transcript.state = "checked"
    session.flush()
    return check


def split_lines(text: str) -> list[str]:
    """The numbered lines of a transcript: every non-blank line, in order."""
    return [line.rstrip() for line in text.split("\n") if line.strip()]


def approve_transcript(session: Session, transcript: Transcript, actor: Principal) -> Transcript:
    """Freeze the checked English and number its lines for citation."""
    require_site(transcript.site_code, hide=True)
    _expect_state(transcript, "approve", "checked")
    for number, line in enumerate(split_lines(transcript.english_text or ""), start=1):
        session.add(
            TranscriptLine(
                site_code=transcript.site_code,
                transcript_id=transcript.id,
                number=number,
                text=line,
            )
        )
    transcript.state = "approved"
    transcript.approved_at = utcnow()
    transcript.approved_by_id = actor.user_id
    session.flush()
    return transcript


# Pseudonymisation key -----------------------------------------------------------------


def add_key_entry(session: Session, data: Mapping[str, Any]) -> PseudonymKeyEntry:
    site_code = data["site"]
    if get_site(session, site_code) is None:
        raise ValidationFailed.field("site", f"Unknown site '{site_code}'.")
    require_site(site_code)
    errors = ErrorCollector()
    term = data["term"].strip()
    if not term:
        errors.add("term", "Give the name or identifier to replace.")
    participant_id = data.get("participant_id")
    placeholder = (data.get("placeholder") or "").strip() or None
    if (participant_id is None) == (placeholder is None):
        errors.add("placeholder", "Give a participant (study ID) or a placeholder, not both.")
    if participant_id is not None:
        participant = session.get(Participant, participant_id)
        if participant is None or participant.site_code != site_code:
            errors.add("participant_id", f"No such participant at {site_code}.")
    errors.raise_if_any()
    duplicate = session.scalar(
        select(PseudonymKeyEntry).where(
            PseudonymKeyEntry.site_code == site_code, PseudonymKeyEntry.term == term
        )
    )
    if duplicate is not None:
        raise Conflict("The term is already in the key.", errors={"term": ["Already listed."]})
    entry = PseudonymKeyEntry(
        site_code=site_code, term=term, participant_id=participant_id, placeholder=placeholder
    )
    session.add(entry)
    session.flush()
    return entry


def delete_key_entry(session: Session, entry: PseudonymKeyEntry, version: int | None) -> None:
    require_site(entry.site_code, hide=True)
    check_version(entry, version)
    session.delete(entry)
    session.flush()
