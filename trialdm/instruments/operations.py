"""Storing instrument versions and entering, changing and deleting responses.

Operations validate, flush and raise domain errors; they never commit.

Audit: the response row's own columns (status, dates, context) are recorded by the
audit listener; the answers are rows of ``response_answers``, and each save records
one ``answers`` event on the response with every changed field's old and new value
(``{"employment": ["unemployed", "part_time"]}``), so the trail reads field by field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import marshmallow as ma
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from trialdm.config import schedule_events
from trialdm.core.audit import current_audit_context, record_event
from trialdm.core.dates import on_day, refuse_future
from trialdm.core.errors import N_, Conflict, ErrorCollector, Message, ValidationFailed
from trialdm.core.locking import refuse_if_locked
from trialdm.core.models import utcnow
from trialdm.core.requestcache import forget
from trialdm.core.scoping import require_site
from trialdm.core.versions import check_version
from trialdm.instruments.answers import AnswerRow, to_json, to_rows
from trialdm.instruments.definitions import (
    DefinitionError,
    DefinitionProblem,
    InstrumentDefinition,
)
from trialdm.instruments.definitions.translations import LabelTranslation, check_translations
from trialdm.instruments.models import (
    InstrumentLabelTranslation,
    InstrumentResponse,
    InstrumentVersion,
    ResponseAnswer,
)
from trialdm.instruments.queries import CACHE_PREFIX, answer_values, get_instrument_version
from trialdm.instruments.record import record_answers_json, without_bound, write_to_record
from trialdm.instruments.schemas import AnswerField, answers_schema
from trialdm.instruments.scoring import compute_scores, visible_fields
from trialdm.participants.models import Participant
from trialdm.sites.queries import site_today


def definition_checksum(definition: InstrumentDefinition) -> str:
    canonical = json.dumps(definition.to_dict(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- sync


@dataclass
class InstrumentSyncReport:
    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    # language -> labels stored / kept as they were (stored already with other text)
    labels_stored: dict[str, int] = field(default_factory=dict)
    labels_kept: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [f"stored {label}" for label in self.added]
        out.append(f"{len(self.added)} stored, {len(self.unchanged)} unchanged")
        for language in sorted(self.labels_stored.keys() | self.labels_kept.keys()):
            stored, kept = self.labels_stored.get(language, 0), self.labels_kept.get(language, 0)
            line = f"labels in {language}: {stored} stored"
            out.append(line + (f", {kept} kept as translated before" if kept else ""))
        return out


def sync_instruments(
    session: Session,
    definitions: Iterable[InstrumentDefinition],
    sources: Mapping[str, str],
    translations: Iterable[LabelTranslation] = (),
) -> InstrumentSyncReport:
    """Store every definition version not stored yet. A stored version never changes:
    different content under a stored version number is refused (raise the version).
    ``translations`` (the shipped wording in other languages) are stored as the
    versions' finished labels (:func:`store_label_translations`)."""
    forget(CACHE_PREFIX)
    events = {event.name for event in schedule_events(current_app.config)}
    report = InstrumentSyncReport()
    problems: list[DefinitionProblem] = []
    stored = {(v.name, v.version): v for v in session.scalars(select(InstrumentVersion))}
    newest: dict[str, int] = {}
    for name, version in stored:
        newest[name] = max(newest.get(name, 0), version)
    for definition in definitions:
        source = sources.get(definition.name, definition.name)
        label = f"{definition.name} v{definition.version}"
        for event in definition.events:
            if event not in events:
                problems.append(
                    DefinitionProblem(source, "events", f"{event!r} is not a schedule event")
                )
        checksum = definition_checksum(definition)
        existing = stored.get((definition.name, definition.version))
        if existing is not None:
            if existing.checksum != checksum:
                problems.append(
                    DefinitionProblem(
                        source,
                        "version",
                        f"version {definition.version} is stored with different content; "
                        "raise the version to change the instrument",
                    )
                )
            else:
                report.unchanged.append(label)
            continue
        if definition.version < newest.get(definition.name, 0):
            problems.append(
                DefinitionProblem(
                    source,
                    "version",
                    f"version {newest[definition.name]} is stored already; "
                    f"{definition.version} would be older",
                )
            )
            continue
        session.add(
            InstrumentVersion(
                name=definition.name,
                version=definition.version,
                title=definition.title["en"][:200],
                definition=definition.to_dict(),
                checksum=checksum,
                source=source[:200],
            )
        )
        report.added.append(label)
    if problems:
        raise DefinitionError(problems)
    session.flush()
    translations = list(translations)
    if translations:
        _sync_translations(session, translations, report)
    return report


def _sync_translations(
    session: Session, translations: list[LabelTranslation], report: InstrumentSyncReport
) -> None:
    versions = {(v.name, v.version): v for v in session.scalars(select(InstrumentVersion))}
    check_translations(translations, {key: v.parsed for key, v in versions.items()})
    for t in translations:
        stored, kept = store_label_translations(
            session, versions[(t.instrument, t.version)], t.language, t.labels, keep_existing=True
        )
        report.labels_stored[t.language] = report.labels_stored.get(t.language, 0) + stored
        report.labels_kept[t.language] = report.labels_kept.get(t.language, 0) + kept


def store_label_translations(
    session: Session,
    version: InstrumentVersion,
    language: str,
    labels: Mapping[str, str],
    *,
    keep_existing: bool = False,
) -> tuple[int, int]:
    """Make ``labels`` (key -> text, keyed as :func:`queries.labels_for`) the finished
    labels of ``version`` in ``language``; returns (stored, kept). Empty texts are not
    stored (the definition's English label shows); keys not given keep their label.

    A finished translation replaces a key's label. The shipped wording
    (``keep_existing``) never does: a label stored already, by an earlier sync or by the
    translation workflow (reviewed, part of the trial's record), is kept; like the
    version itself, its wording changes only with a new version."""
    forget(CACHE_PREFIX)
    existing = {
        row.key: row
        for row in session.scalars(
            select(InstrumentLabelTranslation).where(
                InstrumentLabelTranslation.instrument_version_id == version.id,
                InstrumentLabelTranslation.language == language,
            )
        )
    }
    stored = kept = 0
    for key, text in labels.items():
        if not text:
            continue
        row = existing.get(key)
        if row is None:
            session.add(
                InstrumentLabelTranslation(
                    instrument_version_id=version.id, language=language, key=key, text=text
                )
            )
            stored += 1
        elif row.text != text:
            if keep_existing:
                kept += 1
            else:
                row.text = text
                stored += 1
    session.flush()
    return stored, kept


# ---------------------------------------------------------------- responses


def _load_answers(
    version: InstrumentVersion, answers: Mapping[str, Any], complete: bool, day: date
) -> dict[str, Any]:
    """The answers checked, date bounds such as ``today`` read on ``day`` (the site's)."""
    try:
        with on_day(day):
            return answers_schema(version, complete).load(answers)
    except ma.ValidationError as exc:
        raise ValidationFailed(
            N_("The answers have errors."), errors={"answers": exc.messages}
        ) from None


def _lenient_values(definition: InstrumentDefinition, answers: Mapping[str, Any]) -> dict:
    """Typed values of the answers that parse, for deciding what is shown."""
    values: dict[str, Any] = {}
    for f in definition.fields:
        if answers.get(f.name) is None:
            continue
        try:
            values[f.name] = AnswerField(f).deserialize(answers[f.name])
        except ma.ValidationError:
            continue
    return values


def _participant_for(session: Session, participant_id: int) -> Participant:
    participant = session.scalar(
        select(Participant).where(
            Participant.id == participant_id, Participant.deleted_at.is_(None)
        )
    )
    if participant is None:
        raise ValidationFailed.field("participant_id", N_("No such participant."))
    return participant


def _check_event(
    errors: ErrorCollector,
    definition: InstrumentDefinition,
    participant: Participant,
    event: str | None,
) -> None:
    if event is None:
        if definition.events:
            errors.add(
                "event",
                Message(
                    N_("Required: %(name)s is a scheduled instrument (%(events)s)."),
                    name=definition.name,
                    events=", ".join(definition.events),
                ),
            )
        return
    if event not in definition.events:
        where = ", ".join(definition.events) or "no schedule event"
        errors.add(
            "event",
            Message(
                N_("%(name)s is not due at %(event)s (due at %(where)s)."),
                name=definition.name,
                event=event,
                where=where,
            ),
        )
    elif participant.enrolment_date is None:
        errors.add("event", N_("The participant is not enrolled in the trial."))


def _answer_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    changes: dict[str, list[Any]] = {}
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old != new:
            changes[name] = [to_json(old), to_json(new)]
    return changes


def _scores(response_answers: Iterable[ResponseAnswer]) -> dict[str, float | None]:
    return {a.field: a.value_number for a in response_answers if a.computed}


def _store_rows(session: Session, response: InstrumentResponse, rows: list[AnswerRow]) -> None:
    """Make the response's answer rows equal ``rows``, changing rows in place (a
    delete and re-insert of the same key would meet the unique constraint)."""
    existing = {(a.field, a.position): a for a in response.answers}
    wanted = {(r.field, r.position): r for r in rows}
    for key, answer in existing.items():
        if key not in wanted:
            response.answers.remove(answer)
    for key, row in wanted.items():
        answer = existing.get(key)
        if answer is None:
            answer = ResponseAnswer(
                field=row.field, position=row.position, site_code=response.site_code
            )
            response.answers.append(answer)
        for column in ("value_text", "value_number", "value_date", "missing_code", "computed"):
            if getattr(answer, column) != getattr(row, column):
                setattr(answer, column, getattr(row, column))
    session.flush()


def _record_answers(
    session: Session, response: InstrumentResponse, changes: dict[str, list[Any]]
) -> None:
    if changes:
        record_event(
            session,
            "answers",
            "responses",
            response.id,
            response.site_code,
            details=changes,
        )


def create_response(session: Session, data: Mapping[str, Any]) -> InstrumentResponse:
    participant = _participant_for(session, data["participant_id"])
    require_site(participant.site_code)
    version = get_instrument_version(
        session, data["instrument"], data.get("instrument_version"), field="instrument"
    )
    definition = version.parsed
    errors = ErrorCollector()
    if participant.category not in definition.respondents:
        errors.add(
            "participant_id",
            Message(
                N_("%(name)s is for %(respondents)s, not %(category)s."),
                name=definition.name,
                respondents=", ".join(definition.respondents),
                category=participant.category,
            ),
        )
    event = data.get("event")
    _check_event(errors, definition, participant, event)
    day = site_today(session, participant.site_code)
    collected_on = data.get("collected_on") or day
    refuse_future(errors, "collected_on", collected_on, day)
    errors.raise_if_any()
    complete = data.get("status") == "complete"
    # Bound items not answered keep the record's value (:mod:`.record`).
    answers = {**record_answers_json(definition, participant), **(data.get("answers") or {})}
    values = _load_answers(version, answers, complete, day)
    if event is not None:
        duplicate = session.scalar(
            select(InstrumentResponse.id).where(
                InstrumentResponse.participant_id == participant.id,
                InstrumentResponse.event == event,
                InstrumentResponse.instrument_name == definition.name,
                InstrumentResponse.deleted_at.is_(None),
            )
        )
        if duplicate is not None:
            raise Conflict(
                Message(
                    N_("This participant already has a %(name)s response at %(event)s."),
                    name=definition.name,
                    event=event,
                ),
                errors={
                    "event": [
                        Message(
                            N_("Response %(duplicate)s exists; change that one."),
                            duplicate=duplicate,
                        )
                    ]
                },
            )
    response = InstrumentResponse(
        site_code=participant.site_code,
        participant_id=participant.id,
        event=event,
        instrument_name=definition.name,
        instrument_version=version,
        status="complete" if complete else "incomplete",
        collected_on=collected_on,
        completed_at=utcnow() if complete else None,
        context=data.get("context"),
    )
    session.add(response)
    session.flush()
    write_to_record(session, definition, participant, values, response.id)
    scores = compute_scores(definition, values)
    _store_rows(session, response, to_rows(definition, without_bound(definition, values), scores))
    stored = {k: v for k, v in without_bound(definition, values).items() if v is not None}
    stored.update({k: v for k, v in scores.items() if v is not None})
    _record_answers(session, response, _answer_changes({}, stored))
    return response


def update_response(
    session: Session, response: InstrumentResponse, changes: Mapping[str, Any], version: int | None
) -> InstrumentResponse:
    """Change answers (only those given; ``null`` clears one), status, date, context.

    A response that was complete needs a reason for any change. Stored answers of
    fields that the change hides are cleared (and audited as cleared).
    """
    require_site(response.site_code, hide=True)
    refuse_if_locked(session, [response])
    check_version(response, version)
    reason = current_audit_context().reason
    if response.status == "complete" and not (reason and reason.strip()):
        raise ValidationFailed(
            N_("A reason is required to change a completed response."),
            errors={"reason": [N_("Give a reason for this change.")]},
        )
    definition = response.instrument_version.parsed
    before = answer_values(response)
    incoming = changes.get("answers") or {}
    merged = {name: to_json(value) for name, value in before.items()}
    merged.update(incoming)
    # Answers kept from before whose field is now hidden are cleared.
    while True:
        shown = visible_fields(definition, _lenient_values(definition, merged))
        stale = [
            name
            for name in merged
            if name not in incoming
            and name in definition.fields_by_name
            and name not in shown
            and merged[name] is not None
        ]
        if not stale:
            break
        for name in stale:
            merged[name] = None
    status = changes.get("status", response.status)
    complete = status == "complete"
    day = site_today(session, response.site_code)
    values = _load_answers(response.instrument_version, merged, complete, day)
    errors = ErrorCollector()
    collected_on = changes.get("collected_on", response.collected_on)
    refuse_future(errors, "collected_on", collected_on, day)
    errors.raise_if_any()

    record_changed = False
    if definition.bound_fields:
        participant = _participant_for(session, response.participant_id)
        record_changed = write_to_record(session, definition, participant, values, response.id)
    scores = compute_scores(definition, values)
    after = {k: v for k, v in without_bound(definition, values).items() if v is not None}
    after.update({k: v for k, v in scores.items() if v is not None})
    before_all = without_bound(definition, before)
    before_all.update({k: v for k, v in _scores(response.answers).items() if v is not None})
    answer_changes = _answer_changes(before_all, after)

    if status != response.status:
        response.status = status
        response.completed_at = utcnow() if complete else None
    if collected_on != response.collected_on:
        response.collected_on = collected_on
    if "context" in changes and changes["context"] != response.context:
        response.context = changes["context"]
    if answer_changes:
        _store_rows(
            session, response, to_rows(definition, without_bound(definition, values), scores)
        )
    if answer_changes or record_changed:
        response.updated_at = utcnow()  # a new row version (ETag) for answer changes too
    session.flush()
    _record_answers(session, response, answer_changes)
    return response


def delete_response(session: Session, response: InstrumentResponse, version: int | None) -> None:
    require_site(response.site_code, hide=True)
    refuse_if_locked(session, [response])
    check_version(response, version)
    response.deleted_at = utcnow()
    response.deleted_reason = current_audit_context().reason
    session.flush()
