"""REDCap data dictionary interchange (the 18 standard columns of REDCap's CSV): the
columns, the mapping of types and validations, and export. Import is
:mod:`trialdm.instruments.redcap_import`.

Export writes one row per field, computed scores as ``calc`` fields in their place
(``after``). A round trip (import, then export) gives the same dictionary, field by
field: types, choices, validation types with min/max, required and identifier flags,
field notes, section headers, branching logic and calculations (kept exactly),
alignment, question numbers, matrix groups and ranking, slider labels and action tags
(``@HIDDEN``, ``@READONLY``, ``@DEFAULT``, ``@NOW``, ``@TODAY``... kept as written;
trialdm writes its own tags after them). English labels only: REDCap keeps
translations outside the dictionary.

Mapping:

=====================  =====================================================
trialdm                REDCap
=====================  =====================================================
text                   ``text`` (``notes`` when multiline); max_length as
                       ``@CHARLIMIT``; ``format`` as its validation type
                       (email, phone, zipcode, alpha_only, time, time_mm_ss,
                       datetime_<order>, datetime_seconds_<order>)
integer / decimal      ``text`` validated ``integer`` / ``number``
                       (``number_<n>dp`` with ``decimals = n``)
date                   ``text`` validated ``date_ymd`` (``date_dmy``,
                       ``date_mdy`` with ``date_order``); min/max a day or
                       ``today`` both ways; ``today-30`` has no REDCap form:
                       refused on export and on import
single_choice          ``radio`` (``dropdown`` with widget = "dropdown",
                       validated ``autocomplete`` with widget = "autocomplete")
multiple_choice        ``checkbox``
yes_no                 ``yesno`` (``truefalse`` with widget = "truefalse")
scale                  ``radio`` with every point, ``@TRIALDM-SCALE``
                       (``@TRIALDM-REVERSE`` when reverse-scored);
                       widget = "slider": ``slider`` with its labels
descriptive            ``descriptive``
score (sum)            ``calc``: ``sum([a],(4-[b]))`` with ``@TRIALDM-SCORE``
                       (``@TRIALDM-MIN-ANSWERED=n``)
score (calc)           ``calc`` with its calculation text, kept exactly
units                  ``@TRIALDM-UNITS=...``
show_if                branching logic, kept exactly (a table-form condition
                       is written as the REDCap text of its tree)
=====================  =====================================================

``file`` (uploads, signatures) and ``sql`` fields are refused on import: trialdm stores
no attachments and has no REDCap database to query.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import tomli_w

from trialdm.core.errors import N_, Message, ValidationFailed
from trialdm.instruments.definitions import (
    ACTION_TAG,
    DATE_ORDERS,
    DATETIME_FORMATS,
    TEXT_FORMATS,
    FieldDefinition,
    InstrumentDefinition,
    ScoreDefinition,
)
from trialdm.instruments.definitions.dates import RelativeDate

COLUMNS = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)
(
    VARIABLE,
    FORM,
    SECTION,
    TYPE,
    LABEL,
    CHOICES,
    NOTE,
    VALIDATION,
    VMIN,
    VMAX,
    IDENTIFIER,
    BRANCHING,
    REQUIRED,
    ALIGNMENT,
    QUESTION_NUMBER,
    MATRIX_GROUP,
    MATRIX_RANKING,
    ANNOTATION,
) = COLUMNS


# REDCap validation type -> trialdm type and options
READ_VALIDATION: dict[str, tuple[str, dict[str, Any]]] = {
    "integer": ("integer", {}),
    "number": ("decimal", {}),
    **{f"number_{n}dp": ("decimal", {"decimals": n}) for n in (1, 2, 3, 4)},
    "date_ymd": ("date", {}),
    "date_dmy": ("date", {"date_order": "dmy"}),
    "date_mdy": ("date", {"date_order": "mdy"}),
    **{
        f"{kind}_{order}": (
            "text",
            {"format": kind, **({"date_order": order} if order != "ymd" else {})},
        )
        for kind in DATETIME_FORMATS
        for order in DATE_ORDERS
    },
    **{kind: ("text", {"format": kind}) for kind in TEXT_FORMATS if kind not in DATETIME_FORMATS},
}
# older names REDCap still reads, written back under the current name
READ_VALIDATION_ALIASES = {"float": "number", "int": "integer"}
TAG = ACTION_TAG


def _en(labels: dict[str, str]) -> str:
    return labels.get("en", "")


def _number(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _bound(f: FieldDefinition, key: str) -> str:
    """A validation min or max as REDCap writes it: a date bound is a day or ``today``;
    one counted from today (``today-30``) REDCap cannot hold, so the export is refused
    rather than written without it."""
    value = getattr(f, key)
    if isinstance(value, RelativeDate):
        if value.days:
            raise ValidationFailed.field(
                f"fields.{f.name}.{key}",
                Message(
                    N_(
                        "REDCap cannot hold the date bound %(bound)s of %(field)s: "
                        "only a date or 'today'."
                    ),
                    bound=value.text,
                    field=f.name,
                ),
            )
        return "today"
    return _number(value)


def validation_of(f: FieldDefinition) -> str:
    """The REDCap validation type of a field ('' for none)."""
    if f.type == "integer":
        return "integer"
    if f.type == "decimal":
        return f"number_{f.decimals}dp" if f.decimals else "number"
    if f.type == "date":
        return f"date_{f.date_order or 'ymd'}"
    if f.type == "text" and f.format in DATETIME_FORMATS:
        return f"{f.format}_{f.date_order or 'ymd'}"
    if f.type == "text" and f.format:
        return f.format
    return ""


def slider_labels(f: FieldDefinition) -> str:
    """A slider's labels: left, middle, right ('left | right' without a middle one)."""
    anchors = {c.value: _en(c.label) for c in f.choices}
    left, right = anchors.get(f.min, ""), anchors.get(f.max, "")
    middle = anchors.get((f.min + f.max) // 2, "") if (f.min + f.max) % 2 == 0 else ""
    if not (left or middle or right):
        return ""
    return " | ".join([left, middle, right] if middle else [left, right])


def _type_of(f: FieldDefinition) -> str:
    if f.type == "text":
        return "notes" if f.multiline else "text"
    if f.type in ("integer", "decimal", "date"):
        return "text"
    if f.type == "multiple_choice":
        return "checkbox"
    if f.type == "single_choice":
        return "dropdown" if f.widget in ("dropdown", "autocomplete") else "radio"
    if f.type == "yes_no":
        return "truefalse" if f.widget == "truefalse" else "yesno"
    if f.type == "scale":
        return "slider" if f.widget == "slider" else "radio"
    return f.type  # descriptive


def _annotation(kept: str | None, tags: list[str]) -> str:
    return " ".join(([kept] if kept else []) + tags)


def _field_row(definition: InstrumentDefinition, f: FieldDefinition) -> dict[str, str]:
    row = dict.fromkeys(COLUMNS, "")
    tags: list[str] = []
    row.update(
        {
            VARIABLE: f.name,
            FORM: definition.name,
            SECTION: _en(f.section),
            TYPE: _type_of(f),
            LABEL: _en(f.label),
            NOTE: _en(f.help),
            VALIDATION: validation_of(f),
            VMIN: _bound(f, "min"),
            VMAX: _bound(f, "max"),
            IDENTIFIER: "y" if f.identifier else "",
            BRANCHING: f.show_if.text if f.show_if is not None else "",
            REQUIRED: "y" if f.required else "",
            ALIGNMENT: f.alignment or "",
            QUESTION_NUMBER: f.question_number or "",
            MATRIX_GROUP: f.matrix or "",
            MATRIX_RANKING: "y" if f.matrix_ranking else "",
        }
    )
    if f.type == "text" and f.max_length:
        tags.append(f"@CHARLIMIT={f.max_length}")
    if f.type in ("single_choice", "multiple_choice"):
        row[CHOICES] = " | ".join(f"{c.value}, {_en(c.label)}" for c in f.choices)
        if f.widget == "autocomplete":
            row[VALIDATION] = "autocomplete"
    elif f.type == "scale" and f.widget == "slider":
        row[CHOICES] = slider_labels(f)
        row[VALIDATION] = "number" if f.show_number else ""
    elif f.type == "scale":
        row[VMIN] = row[VMAX] = ""
        anchors = {c.value: _en(c.label) for c in f.choices}
        row[CHOICES] = " | ".join(f"{p}, {anchors.get(p, p)}" for p in f.scale_points())
        tags.append("@TRIALDM-SCALE")
    if f.reverse:
        tags.append("@TRIALDM-REVERSE")
    if f.units:
        tags.append(f'@TRIALDM-UNITS="{f.units}"')
    row[ANNOTATION] = _annotation(f.annotation, tags)
    return row


def _score_row(definition: InstrumentDefinition, score: ScoreDefinition) -> dict[str, str]:
    row = dict.fromkeys(COLUMNS, "")
    row.update(
        {
            VARIABLE: score.name,
            FORM: definition.name,
            SECTION: _en(score.section),
            TYPE: "calc",
            LABEL: _en(score.label),
            NOTE: _en(score.help),
        }
    )
    if score.calculation is not None:
        row[CHOICES] = score.calculation.text
        row[ANNOTATION] = _annotation(score.annotation, [])
        return row
    fields = definition.fields_by_name
    terms = []
    for name in score.items:
        f = fields[name]
        if f.reverse:
            terms.append(f"({f.min + f.max}-[{name}])")
        else:
            terms.append(f"[{name}]")
    row[CHOICES] = f"sum({','.join(terms)})"
    tags = ["@TRIALDM-SCORE"]
    if score.min_answered:
        tags.append(f"@TRIALDM-MIN-ANSWERED={score.min_answered}")
    row[ANNOTATION] = _annotation(score.annotation, tags)
    return row


def export_dictionary(definitions: Iterable[InstrumentDefinition]) -> str:
    """A REDCap data dictionary (CSV text) of the definitions."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for definition in definitions:
        placed: dict[str | None, list[ScoreDefinition]] = {}
        for score in definition.scores:
            placed.setdefault(score.after, []).append(score)
        for f in definition.fields:
            writer.writerow(_field_row(definition, f))
            for score in placed.get(f.name, []):
                writer.writerow(_score_row(definition, score))
        for score in placed.get(None, []):
            writer.writerow(_score_row(definition, score))
    return out.getvalue()


def write_definition(definition: InstrumentDefinition, path: Path) -> None:
    """Write a definition as an instrument file (TOML)."""
    header = (
        f"# {_en(definition.title)}: imported from a REDCap data dictionary.\n"
        '# Add labels in other languages as label = { en = "...", de = "..." }.\n'
    )
    path.write_text(header + tomli_w.dumps(definition.to_dict()), encoding="utf-8")
