"""The definition classes of an instrument and the names they use (field types,
missing-data codes, respondent categories). :mod:`.parsing` builds them from files."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from trialdm.core.errors import N_
from trialdm.instruments.definitions.dates import RelativeDate, bound_text
from trialdm.instruments.logic import Node

FIELD_TYPES = (
    "text",
    "integer",
    "decimal",
    "date",
    "single_choice",
    "multiple_choice",
    "yes_no",
    "scale",
    "descriptive",  # text shown on the form; takes no answer
)
CHOICE_TYPES = ("single_choice", "multiple_choice")
NUMERIC_TYPES = ("integer", "decimal", "scale")
# Missing-data codes: an answer that was not given for a known reason, distinct from blank.
MISSING_CODES: dict[str, str] = {
    "not_asked": N_("Not asked"),
    "refused": N_("Refused"),
    "dont_know": N_("Don't know"),
}
RESPONDENT_CATEGORIES = ("service_user", "psw", "mhw")
SCORE_METHODS = ("sum", "calc")
# how a field of a type may be shown, beyond its default
WIDGETS: dict[str, tuple[str, ...]] = {
    # autocomplete: a dropdown whose options are found by typing (REDCap's autocomplete)
    "single_choice": ("radio", "dropdown", "autocomplete"),
    "yes_no": ("truefalse",),  # True/False instead of Yes/No; 1 and 0 all the same
    "scale": ("slider",),
}
# Formats a text answer must have (REDCap's text validation types of the same names);
# datetimes are stored as ISO text 'YYYY-MM-DD HH:MM[:SS]', times as 'HH:MM' / 'MM:SS'.
TEXT_FORMATS: dict[str, tuple[str, str]] = {
    "email": (r"^[^@\s]+@[^@\s]+\.[^@\s]+$", "an e-mail address"),
    "phone": (
        r"^\(?[2-9]\d{2}\)?[-. ]?[2-9]\d{2}[-. ]?\d{4}(\s*(x|ext\.?)\s*\d+)?$",
        "a North American phone number, (xxx) xxx-xxxx",
    ),
    "zipcode": (r"^\d{5}(-\d{4})?$", "a US ZIP code, 12345 or 12345-6789"),
    "alpha_only": (r"^[A-Za-z]+$", "letters only"),
    "mrn_10d": (r"^\d{10}$", "a medical record number of 10 digits"),
    "mrn_generic": (r"^[A-Za-z0-9_-]+$", "a medical record number (letters, digits, - and _)"),
    "ssn": (r"^\d{3}-\d{2}-\d{4}$", "a US social security number, xxx-xx-xxxx"),
    "phone_australia": (
        r"^(\(0[2-8]\)|0[2-8])\s*\d{4}\s*\d{4}$",
        "an Australian phone number, (0x) xxxx xxxx",
    ),
    "postalcode_australia": (r"^\d{4}$", "an Australian postcode of 4 digits"),
    "postalcode_canada": (
        r"^[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] ?\d[ABCEGHJ-NPRSTV-Z]\d$",
        "a Canadian postal code, A1A 1A1",
    ),
    "postalcode_germany": (r"^\d{5}$", "a German postcode of 5 digits"),
    "postalcode_french": (r"^\d{5}$", "a French postcode of 5 digits"),
    "postalcode_uk": (
        r"^[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}$",
        "a UK postcode, SW1A 1AA",
    ),
    "time": (r"^([01]\d|2[0-3]):[0-5]\d$", "a time, HH:MM"),
    "time_mm_ss": (r"^[0-5]\d:[0-5]\d$", "minutes and seconds, MM:SS"),
    "time_hh_mm_ss": (r"^([01]\d|2[0-3]):[0-5]\d:[0-5]\d$", "a time, HH:MM:SS"),
    "datetime": (
        r"^\d{4}-\d{2}-\d{2} ([01]\d|2[0-3]):[0-5]\d$",
        "a date and time, YYYY-MM-DD HH:MM",
    ),
    "datetime_seconds": (
        r"^\d{4}-\d{2}-\d{2} ([01]\d|2[0-3]):[0-5]\d:[0-5]\d$",
        "a date and time, YYYY-MM-DD HH:MM:SS",
    ),
}
DATETIME_FORMATS = ("datetime", "datetime_seconds")
# Text formats whose answers sort as text in time order, so min and max apply.
ORDERED_FORMATS = ("time", "time_mm_ss", "time_hh_mm_ss", *DATETIME_FORMATS)
DATE_ORDERS = ("ymd", "dmy", "mdy")  # how a date is shown (REDCap date_dmy ...); stored ISO
ALIGNMENTS = ("RV", "RH", "LV", "LH")  # REDCap custom alignment: right/left, vertical/horizontal
DEFAULT_LANGUAGE = "en"

Labels = dict[str, str]

# A REDCap action tag in an annotation: @NAME, or @NAME=value (quoted or not)
ACTION_TAG = re.compile(r"@([A-Z][A-Z0-9_-]*)(?:=(\"[^\"]*\"|'[^']*'|\S+))?")


def action_tags(annotation: str | None) -> dict[str, str]:
    """The action tags of an annotation, ``{"HIDDEN": "", "DEFAULT": "3"}``."""
    return {
        name: (value or "").strip("\"'") for name, value in ACTION_TAG.findall(annotation or "")
    }


@dataclass(frozen=True)
class DefinitionProblem:
    file: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.reason}"


class DefinitionError(Exception):
    """One or more definitions are invalid; nothing was stored."""

    def __init__(self, problems: list[DefinitionProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Choice:
    value: Any  # str for choice fields, int for scale anchors
    label: Labels


@dataclass(frozen=True)
class Logic:
    """A show-if condition or a calculation: its parsed tree (see
    :mod:`trialdm.instruments.logic`), the REDCap text of that tree, and ``source``,
    exactly what the file said (the text, or for a condition the older table form
    ``{ field = "x", equals = "v" }``), which :meth:`to_dict` gives back unchanged."""

    text: str
    tree: Node
    source: Any

    def to_dict(self) -> Any:
        return dict(self.source) if isinstance(self.source, Mapping) else self.source

    def describe(self) -> str:
        return self.text


@dataclass(frozen=True)
class FieldDefinition:
    name: str
    type: str
    label: Labels
    help: Labels = field(default_factory=dict)
    section: Labels = field(default_factory=dict)
    required: bool = False
    min: Any = None
    max: Any = None
    units: str | None = None
    choices: tuple[Choice, ...] = ()
    show_if: Logic | None = None
    reverse: bool = False
    max_length: int | None = None
    multiline: bool = False
    widget: str | None = None
    format: str | None = None
    date_order: str | None = None
    decimals: int | None = None
    show_number: bool = False
    identifier: bool = False
    matrix: str | None = None
    matrix_ranking: bool = False
    alignment: str | None = None
    question_number: str | None = None
    annotation: str | None = None
    # The participant characteristic the item is bound to (:mod:`.binding`), and the
    # item codes spelt differently from the record's (item code -> record code).
    record_field: str | None = None
    record_codes: Mapping[str, str] = field(default_factory=dict)
    # An item derived read-only from the record's diagnoses (:mod:`.derived`):
    # choice -> the record codes it covers ("*" for every other code).
    record_groups: Mapping[str, str] = field(default_factory=dict)

    @property
    def derived(self) -> bool:
        """Whether the item only shows a value derived from the record (never written to it)."""
        return self.record_field == "diagnoses"

    def to_record(self, value: Any) -> Any:
        """An answer of a bound item as the record holds it."""
        return self.record_codes.get(value, value) if isinstance(value, str) else value

    def from_record(self, value: Any) -> Any:
        """A record value as the bound item's answer."""
        if isinstance(value, str) and self.record_codes:
            back = {record: item for item, record in self.record_codes.items()}
            return back.get(value, value)
        return value

    @property
    def action_tags(self) -> dict[str, str]:
        return action_tags(self.annotation)

    @property
    def choice_values(self) -> list[Any]:
        return [c.value for c in self.choices]

    def scale_points(self) -> list[int]:
        return list(range(int(self.min), int(self.max) + 1))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "label": dict(self.label)}
        if self.help:
            out["help"] = dict(self.help)
        if self.section:
            out["section"] = dict(self.section)
        if self.required:
            out["required"] = True
        for key in ("min", "max"):
            value = getattr(self, key)
            if value is not None:
                if isinstance(value, date | RelativeDate):
                    value = bound_text(value)
                out[key] = value
        if self.units:
            out["units"] = self.units
        if self.choices:
            out["choices"] = [{"value": c.value, "label": dict(c.label)} for c in self.choices]
        if self.show_if:
            out["show_if"] = self.show_if.to_dict()
        if self.reverse:
            out["reverse"] = True
        if self.max_length is not None:
            out["max_length"] = self.max_length
        if self.multiline:
            out["multiline"] = True
        if self.widget:
            out["widget"] = self.widget
        for key in _OPTIONAL_KEYS:
            value = getattr(self, key)
            if value not in (None, False):
                out[key] = value
        if self.record_field:
            out["record_field"] = self.record_field
        if self.record_codes:
            out["record_codes"] = dict(self.record_codes)
        if self.record_groups:
            out["record_groups"] = dict(self.record_groups)
        return out


_OPTIONAL_KEYS = (
    "format",
    "date_order",
    "decimals",
    "show_number",
    "identifier",
    "matrix",
    "matrix_ranking",
    "alignment",
    "question_number",
    "annotation",
)


@dataclass(frozen=True)
class ScoreDefinition:
    """A computed score. ``method = "sum"``: the sum of item scores (reverse-scored
    items flipped); with ``min_answered`` below the number of items, a total with
    some items unanswered is prorated (mean of answered items x number of items).
    ``method = "calc"``: the value of ``calculation``, REDCap calculation text kept
    exactly as written (``items`` are then the fields it refers to).

    ``after``: the field it follows in a REDCap dictionary (None: after all fields);
    ``help``, ``section`` and ``annotation`` as for fields."""

    name: str
    label: Labels
    items: tuple[str, ...]
    method: str = "sum"
    min_answered: int | None = None
    calculation: Logic | None = None
    help: Labels = field(default_factory=dict)
    section: Labels = field(default_factory=dict)
    annotation: str | None = None
    after: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "label": dict(self.label), "method": self.method}
        if self.calculation is not None:
            out["calculation"] = self.calculation.to_dict()
        else:
            out["items"] = list(self.items)
            if self.min_answered is not None:
                out["min_answered"] = self.min_answered
        if self.help:
            out["help"] = dict(self.help)
        if self.section:
            out["section"] = dict(self.section)
        if self.annotation:
            out["annotation"] = self.annotation
        if self.after:
            out["after"] = self.after
        return out


@dataclass(frozen=True)
class InstrumentDefinition:
    name: str
    version: int
    title: Labels
    fields: tuple[FieldDefinition, ...]
    description: Labels = field(default_factory=dict)
    respondents: tuple[str, ...] = ("service_user",)
    events: tuple[str, ...] = ()
    scores: tuple[ScoreDefinition, ...] = ()

    def field(self, name: str) -> FieldDefinition | None:
        return self.fields_by_name.get(name)

    @property
    def bound_fields(self) -> dict[str, FieldDefinition]:
        """item name -> field, of the items bound to the participant record."""
        return {f.name: f for f in self.fields if f.record_field}

    @property
    def fields_by_name(self) -> dict[str, FieldDefinition]:
        return {f.name: f for f in self.fields}

    @property
    def languages(self) -> list[str]:
        found = set(self.title)
        for f in self.fields:
            found |= set(f.label)
        return sorted(found)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "title": dict(self.title),
        }
        if self.description:
            out["description"] = dict(self.description)
        out["respondents"] = list(self.respondents)
        out["events"] = list(self.events)
        out["fields"] = [f.to_dict() for f in self.fields]
        if self.scores:
            out["scores"] = [s.to_dict() for s in self.scores]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "(stored)") -> InstrumentDefinition:
        # parsing builds these classes, so it is imported when first needed
        from trialdm.instruments.definitions.parsing import parse_definition

        return parse_definition(data, source)


@dataclass(frozen=True)
class Missing:
    """An answer replaced by a missing-data code (``refused``, ...): not blank."""

    code: str

    def to_json(self) -> dict[str, str]:
        return {"missing": self.code}
