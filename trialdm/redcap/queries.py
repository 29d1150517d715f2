"""What ``POST /api/`` exports: project information, metadata, events, data access
groups and records, each as the list of rows REDCap's API returns.

Every read of participants and responses goes through the ORM, so the site scope of
the token's user applies to it exactly as in ``/api/v1``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trialdm.instruments.definitions import MISSING_CODES
from trialdm.instruments.models import InstrumentResponse
from trialdm.instruments.queries import answer_values
from trialdm.participants.models import Participant
from trialdm.redcap.project import (
    ARM_NAME,
    ARM_NUMBER,
    CHECKBOX_LABELS,
    DAG_FIELD,
    EVENT_FIELD,
    RECORD_ID_FIELD,
    RECORD_ID_LABEL,
    STATUS_CODES,
    STATUS_LABELS,
    Project,
    ProjectField,
    dag_name,
)
from trialdm.redcap.schemas import ParameterError, RecordExport
from trialdm.redcap.values import checkbox_values, raw_value
from trialdm.sites.queries import list_sites

# The REDCap release whose API this one follows.
REDCAP_VERSION = "14.0.0"
DAYS_PER_MONTH = 365.25 / 12


def _invalid(parameter: str, values: list[str]) -> ParameterError:
    return ParameterError(
        f'The following values in the parameter "{parameter}" are not valid: ' + ", ".join(values)
    )


def _check_known(parameter: str, given: list[str], known: Mapping[str, Any] | set[str]) -> None:
    unknown = [value for value in given if value not in known]
    if unknown:
        raise _invalid(parameter, unknown)


def project_info(project: Project, config: Mapping[str, Any]) -> dict[str, Any]:
    codes = " | ".join(f"{code}, {label}" for code, label in MISSING_CODES.items())
    return {
        "project_id": 1,
        "project_title": config["TRIAL_NAME"],
        "creation_time": "",
        "production_status": "1",
        "in_production": "1",
        "project_language": "English",
        "purpose": "2",
        "purpose_other": "",
        "project_notes": "",
        "custom_record_label": "",
        "secondary_unique_field": "",
        "is_longitudinal": 1,
        "has_repeating_instruments_or_events": 0,
        "surveys_enabled": 0,
        "scheduling_enabled": 0,
        "record_autonumbering_enabled": 0,
        "randomization_enabled": 0,
        "ddp_enabled": 0,
        "project_irb_number": "",
        "project_grant_number": "",
        "project_pi_firstname": "",
        "project_pi_lastname": "",
        "display_today_now_button": 1,
        "missing_data_codes": codes,
        "external_modules": "",
        "bypass_branching_erase_field_prompt": 0,
    }


def metadata(project: Project, fields: list[str], forms: list[str]) -> list[dict[str, str]]:
    names = {row["field_name"] for row in project.metadata}
    _check_known("fields", fields, names)
    _check_known("forms", forms, project.forms_by_name)
    rows = list(project.metadata)
    if fields or forms:
        rows = [r for r in rows if r["field_name"] in fields or r["form_name"] in forms]
    return [dict(r) for r in rows]


def instruments(project: Project) -> list[dict[str, str]]:
    return [{"instrument_name": f.name, "instrument_label": f.label} for f in project.forms]


def export_field_names(project: Project, field_name: str | None) -> list[dict[str, str]]:
    if field_name:
        _check_known("field", [field_name], project.fields)
    rows = []
    for project_field in project.fields.values():
        if field_name and project_field.name != field_name:
            continue
        if project_field.is_checkbox:
            for code, column in zip(
                project_field.option_codes(), project_field.columns(), strict=True
            ):
                rows.append(
                    {
                        "original_field_name": project_field.name,
                        "choice_value": code,
                        "export_field_name": column,
                    }
                )
        else:
            rows.append(
                {
                    "original_field_name": project_field.name,
                    "choice_value": "",
                    "export_field_name": project_field.name,
                }
            )
    return rows


def _check_arms(arms: list[str]) -> None:
    _check_known("arms", arms, {str(ARM_NUMBER)})


def arms(requested: list[str]) -> list[dict[str, Any]]:
    _check_arms(requested)
    return [{"arm_num": ARM_NUMBER, "name": ARM_NAME}]


def events(project: Project, requested_arms: list[str], window_days: int) -> list[dict[str, Any]]:
    _check_arms(requested_arms)
    return [
        {
            "event_name": event.name,
            "arm_num": ARM_NUMBER,
            "unique_event_name": event.unique_name,
            "custom_event_label": f"Month {event.months}",
            "event_id": index,
            # REDCap counts in days; the schedule counts calendar months.
            "days_offset": round(event.months * DAYS_PER_MONTH),
            "offset_min": window_days,
            "offset_max": window_days,
        }
        for index, event in enumerate(project.events, start=1)
    ]


def form_event_mapping(project: Project, requested_arms: list[str]) -> list[dict[str, Any]]:
    _check_arms(requested_arms)
    return [
        {"arm_num": ARM_NUMBER, "unique_event_name": event.unique_name, "form": form.name}
        for event in project.events
        for form in project.forms
        if event.unique_name in form.events
    ]


def data_access_groups(session: Session) -> list[dict[str, Any]]:
    return [
        {
            "data_access_group_name": site.label,
            "unique_group_name": dag_name(site.code),
            "data_access_group_id": index,
        }
        for index, site in enumerate(list_sites(session), start=1)
    ]


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class Column:
    name: str
    header_label: str
    project_field: ProjectField | None = None
    option: str | None = None  # a checkbox column's option code
    form: str | None = None  # a <form>_complete column's form


@dataclass(frozen=True)
class RecordTable:
    columns: list[Column]
    rows: list[dict[str, str]]


def _selected(project: Project, params: RecordExport) -> set[str]:
    """Field names (and ``<form>_complete`` names) to export."""
    completes = project.complete_fields()
    known = set(project.fields) | set(completes)
    _check_known("fields", params.fields, known)
    _check_known("forms", params.forms, project.forms_by_name)
    _check_known("events", params.events, project.events_by_unique_name)
    if not params.fields and not params.forms:
        return known
    chosen = set(params.fields)
    for form in project.forms:
        if form.name in params.forms:
            chosen |= {f.name for f in form.fields} | {form.complete_field}
    return chosen


def record_columns(project: Project, params: RecordExport, every_site: bool) -> list[Column]:
    chosen = _selected(project, params)
    columns = [
        Column(RECORD_ID_FIELD, RECORD_ID_LABEL, project.fields.get(RECORD_ID_FIELD)),
        Column(EVENT_FIELD, "Event Name"),
    ]
    # REDCap leaves the group out for a user who is in a data access group.
    if params.data_access_groups and every_site:
        columns.append(Column(DAG_FIELD, "Data Access Group"))
    for form in project.forms:
        for project_field in form.fields:
            if project_field.name == RECORD_ID_FIELD or project_field.name not in chosen:
                continue
            if project_field.is_checkbox:
                for code, name in zip(
                    project_field.option_codes(), project_field.columns(), strict=True
                ):
                    label = project_field.choice_label(code) or code
                    columns.append(
                        Column(
                            name=name,
                            header_label=f"{project_field.label} (choice={label})",
                            project_field=project_field,
                            option=code,
                        )
                    )
            else:
                columns.append(Column(project_field.name, project_field.label, project_field))
        if form.complete_field in chosen:
            columns.append(Column(form.complete_field, "Complete?", form=form.name))
    return columns


def _participants(session: Session, records: list[str]) -> list[Participant]:
    stmt = select(Participant).where(
        Participant.category == "service_user",
        Participant.enrolment_date.is_not(None),
        Participant.deleted_at.is_(None),
    )
    if records:
        stmt = stmt.where(Participant.study_id.in_(records))
    return list(session.scalars(stmt.order_by(Participant.study_id)))


def _responses(
    session: Session, project: Project, participant_ids: list[int]
) -> dict[tuple[int, str, str], InstrumentResponse]:
    """(participant id, schedule event, form) -> the live response."""
    found: dict[tuple[int, str, str], InstrumentResponse] = {}
    if not participant_ids or not project.forms:
        return found
    stmt = select(InstrumentResponse).where(
        InstrumentResponse.deleted_at.is_(None),
        InstrumentResponse.event.is_not(None),
        InstrumentResponse.instrument_name.in_([f.name for f in project.forms]),
        InstrumentResponse.participant_id.in_(participant_ids),
    )
    for response in session.scalars(stmt):
        found[(response.participant_id, response.event, response.instrument_name)] = response
    return found


def _form_values(response: InstrumentResponse) -> dict[str, Any]:
    values: dict[str, Any] = dict(answer_values(response))
    values.update({a.field: a.value_number for a in response.answers if a.computed})
    return values


def _cell(column: Column, values: dict[str, Any], params: RecordExport) -> str:
    project_field = column.project_field
    assert project_field is not None
    value = values.get(project_field.name)
    if column.option is not None:
        raw = checkbox_values(value, project_field)[column.option]
        if not params.labels:
            return raw
        if not params.checkbox_labels:
            return CHECKBOX_LABELS[raw]
        return (project_field.choice_label(column.option) or column.option) if raw == "1" else ""
    raw = raw_value(value)
    if raw and params.labels:
        label = project_field.choice_label(raw)
        if label is not None:
            return label
    if params.decimal_character == "," and isinstance(value, float):
        return raw.replace(".", ",")
    return raw


def record_table(
    session: Session, project: Project, params: RecordExport, every_site: bool
) -> RecordTable:
    columns = record_columns(project, params, every_site)
    participants = _participants(session, params.records)
    responses = _responses(session, project, [p.id for p in participants])
    wanted_events = set(params.events)
    site_names = {site.code: site.label for site in list_sites(session)}
    rows: list[dict[str, str]] = []
    for participant in participants:
        for position, event in enumerate(project.events):
            if wanted_events and event.unique_name not in wanted_events:
                continue
            here = {
                form.name: responses.get((participant.id, event.name, form.name))
                for form in project.forms
                if event.unique_name in form.events
            }
            # A record exists in its first event; later events once they hold data.
            if position > 0 and not any(here.values()):
                continue
            values: dict[str, Any] = {}
            for response in here.values():
                if response is not None:
                    values.update(_form_values(response))
            row: dict[str, str] = {}
            for column in columns:
                if column.name == RECORD_ID_FIELD:
                    row[column.name] = participant.study_id
                elif column.name == EVENT_FIELD:
                    row[column.name] = (
                        event.name if params.labels and params.event_labels else event.unique_name
                    )
                elif column.name == DAG_FIELD:
                    row[column.name] = (
                        site_names.get(participant.site_code, participant.site_code)
                        if params.labels
                        else dag_name(participant.site_code)
                    )
                elif column.form is not None:
                    row[column.name] = _status_cell(column.form, here, params)
                elif column.project_field is not None and column.project_field.form in here:
                    row[column.name] = _cell(column, values, params)
                else:
                    row[column.name] = ""
            rows.append(row)
    return RecordTable(columns=columns, rows=rows)


def _status_cell(
    form: str, here: dict[str, InstrumentResponse | None], params: RecordExport
) -> str:
    if form not in here:
        return ""  # the form is not designated for this event
    response = here[form]
    if response is None:
        code = "" if params.blank_for_gray_status else STATUS_CODES["incomplete"]
    else:
        code = STATUS_CODES[response.status]
    return STATUS_LABELS[code] if code and params.labels else code
