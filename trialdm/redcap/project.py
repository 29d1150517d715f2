"""The trial as a REDCap project: forms, events, fields and export columns.

The fields and their order come from the instruments domain's data dictionary
export (:func:`trialdm.instruments.redcap.export_dictionary`), so that the
metadata, the export field names and the record columns always agree with the
dictionary a user downloads. A record is an enrolled service user; the record
ID field ``study_id`` leads the first form, as REDCap's record ID field does.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from trialdm.core.errors import DomainError
from trialdm.instruments.definitions import MISSING_CODES, FieldDefinition, InstrumentDefinition
from trialdm.instruments.models import InstrumentVersion
from trialdm.instruments.queries import latest_versions
from trialdm.instruments.redcap import COLUMNS, export_dictionary
from trialdm.schedule.queries import schedule_events

RECORD_ID_FIELD = "study_id"
RECORD_ID_LABEL = "Study ID"
EVENT_FIELD = "redcap_event_name"
DAG_FIELD = "redcap_data_access_group"
ARM_NUMBER = 1
ARM_NAME = "Trial schedule"
# REDCap's form status codes; trialdm has no "Unverified" (1).
STATUS_CODES = {"incomplete": "0", "complete": "2"}
STATUS_LABELS = {"0": "Incomplete", "1": "Unverified", "2": "Complete"}
CHECKBOX_LABELS = {"1": "Checked", "0": "Unchecked"}
YESNO_LABELS = {"1": "Yes", "0": "No"}
TRUEFALSE_LABELS = {"1": "True", "0": "False"}
# The metadata keys of REDCap's API, in the order of the dictionary's 18 columns.
METADATA_KEYS = (
    "field_name",
    "form_name",
    "section_header",
    "field_type",
    "field_label",
    "select_choices_or_calculations",
    "field_note",
    "text_validation_type_or_show_slider_number",
    "text_validation_min",
    "text_validation_max",
    "identifier",
    "branching_logic",
    "required_field",
    "custom_alignment",
    "question_number",
    "matrix_group_name",
    "matrix_ranking",
    "field_annotation",
)
# The dictionary columns, as the instruments domain writes them.
DICTIONARY_HEADERS = COLUMNS
_HEADER_KEYS = dict(zip(DICTIONARY_HEADERS, METADATA_KEYS, strict=True))
# Field types that hold no data (shown text only).
NO_DATA_TYPES = ("descriptive",)
CHOICE_FIELD_TYPES = ("radio", "dropdown", "checkbox")


class ProjectError(DomainError):
    """The instruments cannot be shown as one REDCap project."""

    status = 400
    title = "Bad request"


def checkbox_column(field_name: str, code: str) -> str:
    """REDCap's export column of one checkbox option: ``diagnoses___other``."""
    return f"{field_name}___{re.sub(r'[^a-z0-9_]', '_', code.lower())}"


def parse_choices(raw: str) -> tuple[tuple[str, str], ...]:
    """``"1, Yes | 2, No"`` -> (("1", "Yes"), ("2", "No")); a label may hold commas."""
    choices = []
    for part in raw.split("|"):
        if not part.strip():
            continue
        code, _, label = part.partition(",")
        choices.append((code.strip(), label.strip()))
    return tuple(choices)


@dataclass(frozen=True)
class Event:
    name: str  # the schedule's name, "T1"
    unique_name: str  # "t1_arm_1"
    months: int


@dataclass(frozen=True)
class ProjectField:
    """One data field of the project as REDCap describes it."""

    name: str
    form: str
    field_type: str  # REDCap's: text, notes, radio, dropdown, checkbox, yesno, calc ...
    label: str
    choices: tuple[tuple[str, str], ...] = ()
    # The trialdm field behind it; None for the record ID and calculated fields.
    definition: FieldDefinition | None = None

    @property
    def is_checkbox(self) -> bool:
        return self.field_type == "checkbox"

    @property
    def is_calc(self) -> bool:
        return self.field_type == "calc"

    def option_codes(self) -> list[str]:
        """Checkbox options with an export column: the choices, then the missing codes
        (REDCap adds a column per missing-data code to each checkbox)."""
        return [code for code, _ in self.choices] + list(MISSING_CODES)

    def columns(self) -> list[str]:
        if self.is_checkbox:
            return [checkbox_column(self.name, code) for code in self.option_codes()]
        return [self.name]

    def choice_label(self, code: str) -> str | None:
        if self.field_type == "yesno":
            return YESNO_LABELS.get(code)
        if self.field_type == "truefalse":
            return TRUEFALSE_LABELS.get(code)
        if code in MISSING_CODES:
            return MISSING_CODES[code]
        return dict(self.choices).get(code)


@dataclass(frozen=True)
class Form:
    name: str
    label: str
    version: InstrumentVersion
    events: tuple[str, ...]  # unique event names it is designated for
    fields: tuple[ProjectField, ...]

    @property
    def complete_field(self) -> str:
        return f"{self.name}_complete"


@dataclass(frozen=True)
class Project:
    forms: tuple[Form, ...]
    events: tuple[Event, ...]
    metadata: tuple[dict[str, str], ...]
    fields: dict[str, ProjectField] = field(default_factory=dict)

    @property
    def forms_by_name(self) -> dict[str, Form]:
        return {f.name: f for f in self.forms}

    @property
    def events_by_unique_name(self) -> dict[str, Event]:
        return {e.unique_name: e for e in self.events}

    def complete_fields(self) -> dict[str, Form]:
        return {form.complete_field: form for form in self.forms}


def unique_event_name(event: str) -> str:
    return f"{re.sub(r'[^a-z0-9_]', '_', event.lower())}_arm_{ARM_NUMBER}"


def dag_name(site_code: str) -> str:
    """A site's unique data access group name: ``BU`` -> ``bu``."""
    return site_code.lower()


def _dictionary_rows(definitions: list[InstrumentDefinition]) -> list[dict[str, str]]:
    text = export_dictionary(definitions)
    rows = []
    for raw in csv.DictReader(io.StringIO(text)):
        rows.append({key: (raw.get(header) or "") for header, key in _HEADER_KEYS.items()})
    return rows


def _record_id_row(form: str) -> dict[str, str]:
    row = dict.fromkeys(METADATA_KEYS, "")
    row.update(
        field_name=RECORD_ID_FIELD, form_name=form, field_type="text", field_label=RECORD_ID_LABEL
    )
    return row


def build_project(session: Session, config: Mapping[str, Any]) -> Project:
    """The project of the newest version of every instrument due at a schedule event.

    Instruments outside the schedule (focus-group questionnaires, session
    feedback) are not REDCap events of a record and stay in ``/api/v1``.
    """
    events = tuple(
        Event(e.name, unique_event_name(e.name), e.months) for e in schedule_events(config)
    )
    order = {e.name: i for i, e in enumerate(events)}
    versions = [v for v in latest_versions(session) if v.parsed.events]
    versions.sort(key=lambda v: (min(order.get(e, len(order)) for e in v.parsed.events), v.name))
    metadata: list[dict[str, str]] = []
    if versions:
        metadata.append(_record_id_row(versions[0].name))
        metadata += _dictionary_rows([v.parsed for v in versions])
    seen: dict[str, str] = {}
    for row in metadata:
        name, form = row["field_name"], row["form_name"]
        if name in seen and seen[name] != form:
            raise ProjectError(
                f"The field '{name}' is on the forms '{seen[name]}' and '{form}'; a REDCap "
                "project needs each field name once. Rename it in one instrument."
            )
        seen[name] = form
    definitions = {v.name: v.parsed.fields_by_name for v in versions}
    fields: dict[str, ProjectField] = {}
    by_form: dict[str, list[ProjectField]] = {}
    for row in metadata:
        if row["field_type"] in NO_DATA_TYPES:
            continue
        choices = (
            parse_choices(row["select_choices_or_calculations"])
            if row["field_type"] in CHOICE_FIELD_TYPES
            else ()
        )
        project_field = ProjectField(
            name=row["field_name"],
            form=row["form_name"],
            field_type=row["field_type"],
            label=row["field_label"],
            choices=choices,
            definition=definitions.get(row["form_name"], {}).get(row["field_name"]),
        )
        fields[project_field.name] = project_field
        by_form.setdefault(project_field.form, []).append(project_field)
    forms = tuple(
        Form(
            name=v.name,
            label=v.parsed.title.get("en") or v.title,
            version=v,
            events=tuple(unique_event_name(e) for e in v.parsed.events),
            fields=tuple(by_form.get(v.name, [])),
        )
        for v in versions
    )
    return Project(forms=forms, events=events, metadata=tuple(metadata), fields=fields)
