"""Importing REDCap records: each row's forms become responses, through the same
operations (and so the same validation, site checks and audit) as ``/api/v1``.

All or nothing: every problem of every row is collected, each form's change runs in
its own savepoint so that one refused form cannot leave half a change behind, and
any problem refuses the whole import (the request then rolls back). Problems are
reported as REDCap does, one ``"record","field","value","message"`` line each.

Record names are study IDs of enrolled service users of the caller's sites; an
import does not enrol anyone. Blank values leave answers alone unless
``overwriteBehavior=overwrite``, where they clear them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trialdm.core.errors import DomainError, Locked
from trialdm.instruments.definitions import MISSING_CODES
from trialdm.instruments.models import InstrumentResponse
from trialdm.instruments.operations import create_response, update_response
from trialdm.instruments.queries import answers_json
from trialdm.participants.models import Participant
from trialdm.redcap.imports import ImportProblem, ImportRefused, cell_text
from trialdm.redcap.project import (
    DAG_FIELD,
    EVENT_FIELD,
    RECORD_ID_FIELD,
    STATUS_CODES,
    Event,
    Form,
    Project,
    ProjectField,
    dag_name,
)
from trialdm.redcap.schemas import RecordImport
from trialdm.redcap.values import ValueProblem, answer_json, number_text

REPEAT_FIELDS = ("redcap_repeat_instrument", "redcap_repeat_instance")
_STATUS_BY_CODE = {code: status for status, code in STATUS_CODES.items()}


@dataclass
class _FormChange:
    """What one row asks of one form at one event."""

    answers: dict[str, Any] = field(default_factory=dict)
    checkbox_options: dict[str, dict[str, str]] = field(default_factory=dict)
    calculated: dict[str, str] = field(default_factory=dict)
    status: str | None = None

    def empty(self) -> bool:
        return not (self.answers or self.checkbox_options or self.calculated or self.status)


class _Columns:
    """Which field, checkbox option or form status each column of the data is."""

    def __init__(self, project: Project) -> None:
        self.fields: dict[str, ProjectField] = {}
        self.options: dict[str, tuple[ProjectField, str]] = {}
        for project_field in project.fields.values():
            if project_field.is_checkbox:
                for code, column in zip(
                    project_field.option_codes(), project_field.columns(), strict=True
                ):
                    self.options[column] = (project_field, code)
            else:
                self.fields[project_field.name] = project_field
        self.completes = project.complete_fields()

    def unknown(self, names: set[str]) -> list[str]:
        known = {EVENT_FIELD, DAG_FIELD, *REPEAT_FIELDS}
        known |= set(self.fields) | set(self.options) | set(self.completes)
        return sorted(names - known)


def import_records(
    session: Session, project: Project, rows: list[dict[str, str]], params: RecordImport
) -> list[str]:
    """Save the rows; return the record names imported, in order of first appearance."""
    columns = _Columns(project)
    unknown = columns.unknown({name for row in rows for name in row})
    if unknown:
        raise ImportRefused(
            [
                ImportProblem(
                    "",
                    name,
                    "",
                    "The following fields were not found in the project as real data fields: "
                    + name,
                )
                for name in unknown
            ]
        )
    problems: list[ImportProblem] = []
    study_ids = sorted({row.get(RECORD_ID_FIELD, "").strip() for row in rows} - {""})
    participants = {
        p.study_id: p
        for p in session.scalars(
            select(Participant).where(
                Participant.study_id.in_(study_ids),
                Participant.category == "service_user",
                Participant.enrolment_date.is_not(None),
                Participant.deleted_at.is_(None),
            )
        )
    }
    imported: list[str] = []
    seen: set[tuple[str, str]] = set()
    for number, row in enumerate(rows, start=1):
        record = row.get(RECORD_ID_FIELD, "").strip()
        event = project.events_by_unique_name.get(row.get(EVENT_FIELD, "").strip())
        before = len(problems)
        _check_row(row, number, record, event, participants, seen, problems)
        if len(problems) > before or event is None:
            continue
        participant = participants[record]
        if record not in imported:
            imported.append(record)
        changes = _form_changes(project, columns, row, record, event, params, problems)
        forms = project.forms_by_name
        for form_name, change in changes.items():
            _apply(session, participant, event, forms[form_name], change, problems, record)
    if problems:
        raise ImportRefused(problems)
    return imported


def _check_row(
    row: Mapping[str, str],
    number: int,
    record: str,
    event: Event | None,
    participants: Mapping[str, Participant],
    seen: set[tuple[str, str]],
    problems: list[ImportProblem],
) -> None:
    raw_event = row.get(EVENT_FIELD, "").strip()
    if not record:
        problems.append(
            ImportProblem("", RECORD_ID_FIELD, "", f"Row {number} has no record name (study ID).")
        )
        return
    if event is None:
        message = (
            f"'{raw_event}' is not a valid unique event name."
            if raw_event
            else "The project is longitudinal: give each row a redcap_event_name."
        )
        problems.append(ImportProblem(record, EVENT_FIELD, raw_event, message))
        return
    participant = participants.get(record)
    if participant is None:
        problems.append(
            ImportProblem(
                record,
                RECORD_ID_FIELD,
                record,
                "No enrolled participant with this study ID at your sites; records are "
                "created by enrolling the participant in trialdm.",
            )
        )
        return
    if (record, event.unique_name) in seen:
        problems.append(
            ImportProblem(
                record,
                EVENT_FIELD,
                event.unique_name,
                "This record and event appear in more than one row.",
            )
        )
    seen.add((record, event.unique_name))
    group = row.get(DAG_FIELD, "").strip()
    if group and group.lower() != dag_name(participant.site_code):
        problems.append(
            ImportProblem(
                record,
                DAG_FIELD,
                group,
                f"The record belongs to '{dag_name(participant.site_code)}'; a record "
                "keeps its site.",
            )
        )
    repeat_instrument = row.get("redcap_repeat_instrument", "").strip()
    repeat_instance = row.get("redcap_repeat_instance", "").strip()
    if repeat_instrument or repeat_instance not in ("", "1"):
        problems.append(
            ImportProblem(
                record,
                "redcap_repeat_instrument",
                repeat_instrument or repeat_instance,
                "The project has no repeating instruments or events.",
            )
        )


def _form_changes(
    project: Project,
    columns: _Columns,
    row: Mapping[str, str],
    record: str,
    event: Event,
    params: RecordImport,
    problems: list[ImportProblem],
) -> dict[str, _FormChange]:
    """form name -> the change the row asks of it."""
    forms = project.forms_by_name
    changes: dict[str, _FormChange] = {}

    def change_for(form_name: str, column: str, value: str) -> _FormChange | None:
        form = forms[form_name]
        if event.unique_name not in form.events:
            if value.strip():
                problems.append(
                    ImportProblem(
                        record,
                        column,
                        value,
                        f"The field is on the form '{form_name}', which is not designated "
                        f"for the event '{event.unique_name}'.",
                    )
                )
            return None
        return changes.setdefault(form_name, _FormChange())

    for column, value in row.items():
        if column == RECORD_ID_FIELD or column in (EVENT_FIELD, DAG_FIELD, *REPEAT_FIELDS):
            continue
        blank = not value.strip()
        if blank and not params.overwrite:
            continue
        if column in columns.completes:
            form = columns.completes[column]
            change = change_for(form.name, column, value)
            if change is None or blank:
                continue
            status = _STATUS_BY_CODE.get(value.strip())
            if status is None:
                problems.append(
                    ImportProblem(
                        record,
                        column,
                        value,
                        "A form status is 0 (Incomplete) or 2 (Complete); trialdm has no "
                        "Unverified status."
                        if value.strip() == "1"
                        else "A form status is 0 (Incomplete) or 2 (Complete).",
                    )
                )
            change.status = status
            continue
        if column in columns.options:
            project_field, code = columns.options[column]
            change = change_for(project_field.form, column, value)
            if change is None:
                continue
            flag = value.strip() or "0"
            if flag not in ("0", "1"):
                problems.append(
                    ImportProblem(record, column, value, "A checkbox option is 1 or 0.")
                )
                continue
            change.checkbox_options.setdefault(project_field.name, {})[code] = flag
            continue
        project_field = columns.fields[column]
        change = change_for(project_field.form, column, value)
        if change is None:
            continue
        if project_field.is_calc:
            if not blank:
                change.calculated[project_field.name] = value.strip()
            continue
        try:
            change.answers[project_field.name] = answer_json(
                project_field, value, params.date_format
            )
        except ValueProblem as exc:
            problems.append(ImportProblem(record, column, value, str(exc)))
    return {form: change for form, change in changes.items() if not change.empty()}


def _checkbox_answer(current: Any, options: Mapping[str, str]) -> tuple[Any, str | None]:
    """The checkbox's new JSON answer from its current one and the options given."""
    chosen: list[str] = []
    if isinstance(current, list):
        chosen = list(current)
    elif isinstance(current, dict):
        chosen = [current["missing"]]
    for code, flag in options.items():
        if flag == "1" and code not in chosen:
            chosen.append(code)
        elif flag == "0" and code in chosen:
            chosen.remove(code)
    missing = [code for code in chosen if code in MISSING_CODES]
    if missing and len(chosen) > 1:
        return None, "A missing-data code cannot be checked together with another option."
    if missing:
        return {"missing": missing[0]}, None
    return (chosen or None), None


def _apply(
    session: Session,
    participant: Participant,
    event: Event,
    form: Form,
    change: _FormChange,
    problems: list[ImportProblem],
    record: str,
) -> None:
    existing = session.scalar(
        select(InstrumentResponse).where(
            InstrumentResponse.participant_id == participant.id,
            InstrumentResponse.event == event.name,
            InstrumentResponse.instrument_name == form.name,
            InstrumentResponse.deleted_at.is_(None),
        )
    )
    current = answers_json(existing) if existing is not None else {}
    answers = dict(change.answers)
    for name, options in change.checkbox_options.items():
        answer, message = _checkbox_answer(current.get(name), options)
        if message:
            problems.append(ImportProblem(record, name, "", message))
            return
        answers[name] = answer
    if (
        existing is None
        and all(v is None for v in answers.values())
        and change.status in (None, "incomplete")
        and not change.calculated
    ):
        # No answers and not complete is what a form without data is already
        # (REDCap's gray status, exported as 0): nothing to store.
        return
    try:
        with session.begin_nested():
            if existing is None:
                data: dict[str, Any] = {
                    "participant_id": participant.id,
                    "instrument": form.name,
                    "event": event.name,
                    "answers": {k: v for k, v in answers.items() if v is not None},
                }
                if change.status:
                    data["status"] = change.status
                response = create_response(session, data)
            else:
                update: dict[str, Any] = {
                    "answers": {k: v for k, v in answers.items() if current.get(k) != v}
                }
                if change.status and change.status != existing.status:
                    update["status"] = change.status
                response = existing
                # Unchanged values (a re-import of an export) change nothing and need
                # no reason.
                if update["answers"] or "status" in update:
                    response = update_response(session, existing, update, existing.version_id)
            mismatch = _calculated_mismatches(response, change.calculated)
            if mismatch:
                problems += [ImportProblem(record, *item) for item in mismatch]
                raise _Undo()
    except _Undo:
        return
    except DomainError as exc:
        problems += _problems_of(exc, record, answers)


class _Undo(Exception):
    """Rolls back one form's savepoint after a problem found once it was saved."""


def _calculated_mismatches(
    response: InstrumentResponse, given: Mapping[str, str]
) -> list[tuple[str, str, str]]:
    computed = {a.field: a.value_number for a in response.answers if a.computed}
    out = []
    for name, text in given.items():
        value = computed.get(name)
        shown = "blank" if value is None else number_text(value)
        try:
            same = value is not None and float(text) == value
        except ValueError:
            same = False
        if not same:
            out.append(
                (
                    name,
                    text,
                    f"A calculated field; trialdm computes {shown} from this form's answers. "
                    "Leave it blank or give the computed value.",
                )
            )
    return out


def _problems_of(exc: DomainError, record: str, answers: Mapping[str, Any]) -> list[ImportProblem]:
    if isinstance(exc, Locked):
        return [ImportProblem(record, "", "", exc.detail, locked=True)]
    problems = []
    for key, messages in (exc.errors or {}).items():
        if key == "answers" and isinstance(messages, dict):
            for name, field_messages in messages.items():
                value = answers.get(name)
                shown = json.dumps(value) if isinstance(value, (dict, list)) else cell_text(value)
                problems.append(
                    ImportProblem(record, str(name), shown, " ".join(_flatten(field_messages)))
                )
        else:
            problems.append(ImportProblem(record, str(key), "", " ".join(_flatten(messages))))
    if not problems:
        problems.append(ImportProblem(record, "", "", exc.detail))
    return problems


def _flatten(messages: Any) -> list[str]:
    if isinstance(messages, str):
        return [messages]
    if isinstance(messages, dict):
        return [m for value in messages.values() for m in _flatten(value)]
    if isinstance(messages, list):
        return [m for value in messages for m in _flatten(value)]
    return [str(messages)]
