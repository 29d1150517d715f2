"""REDCap data dictionary interchange (the 18 standard columns of REDCap's CSV).

Export writes one row per field, computed scores as ``calc`` fields. Import reads a
dictionary into one definition per form (``Form Name``), with every problem reported
as file, ``line N: variable`` and reason. A round trip keeps fields, types, choices,
validation (integer, number, date_ymd with min/max), required flags, help, section
headers and simple branching logic. English labels only: REDCap keeps translations
outside the dictionary.

Mapping:

=====================  =====================================================
trialdm                REDCap
=====================  =====================================================
text                   ``text`` (``notes`` when multiline); max_length as
                       ``@CHARLIMIT``
integer/decimal/date   ``text`` validated ``integer`` / ``number`` / ``date_ymd``
single_choice          ``radio`` (``dropdown`` with widget = "dropdown")
multiple_choice        ``checkbox``
yes_no                 ``yesno`` (``truefalse`` is read as yes_no too)
scale                  ``radio`` with every point, ``@TRIALDM-SCALE``
                       (``@TRIALDM-REVERSE`` when reverse-scored); ``slider``
                       is read as a 0-100 scale
score                  ``calc``: ``sum([a],[b])``; ``@TRIALDM-MIN-ANSWERED=n``
units                  ``@TRIALDM-UNITS=...``
show_if                branching logic ``[f] = 'v'``, ``[f] <> 'v'``,
                       ``[f] = 'a' or [f] = 'b'``, ``[f(code)] = '1'``
=====================  =====================================================
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import tomli_w

from trialdm.instruments.definitions import (
    DefinitionError,
    DefinitionProblem,
    FieldDefinition,
    InstrumentDefinition,
    ScoreDefinition,
    parse_definition,
)

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

VALIDATION_TYPES = {"integer": "integer", "decimal": "decimal", "date": "date_ymd"}
_READ_VALIDATION = {
    "integer": "integer",
    "number": "decimal",
    "float": "decimal",
    "date_ymd": "date",
}
_TAG = re.compile(r"@([A-Z][A-Z0-9_-]*)(?:=(\"[^\"]*\"|'[^']*'|\S+))?")
_TERM = re.compile(
    r"^\s*\[(?P<field>[a-z][a-z0-9_]*)(?:\((?P<code>[^)]+)\))?\]\s*"
    r"(?P<op>=|<>|!=)\s*(?P<value>'[^']*'|\"[^\"]*\"|[^\s'\"]+)\s*$"
)


def _en(labels: dict[str, str]) -> str:
    return labels.get("en", "")


def _number(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _branching(definition: InstrumentDefinition, f: FieldDefinition) -> str:
    condition = f.show_if
    if condition is None:
        return ""
    target = definition.fields_by_name[condition.field]

    def code(value: Any) -> str:
        if target.type == "yes_no":
            return "1" if value else "0"
        return str(value)

    if condition.op == "contains":
        return f"[{condition.field}({condition.value})] = '1'"
    if condition.op == "any_of":
        return " or ".join(f"[{condition.field}] = '{code(v)}'" for v in condition.value)
    op = "=" if condition.op == "equals" else "<>"
    return f"[{condition.field}] {op} '{code(condition.value)}'"


def _field_row(definition: InstrumentDefinition, f: FieldDefinition) -> dict[str, str]:
    row = dict.fromkeys(COLUMNS, "")
    tags: list[str] = []
    row.update(
        {
            VARIABLE: f.name,
            FORM: definition.name,
            SECTION: _en(f.section),
            LABEL: _en(f.label),
            NOTE: _en(f.help),
            BRANCHING: _branching(definition, f),
            REQUIRED: "y" if f.required else "",
        }
    )
    if f.type == "text":
        row[TYPE] = "notes" if f.multiline else "text"
        if f.max_length:
            tags.append(f"@CHARLIMIT={f.max_length}")
    elif f.type in VALIDATION_TYPES:
        row[TYPE] = "text"
        row[VALIDATION] = "number" if f.type == "decimal" else VALIDATION_TYPES[f.type]
        row[VMIN], row[VMAX] = _number(f.min), _number(f.max)
    elif f.type in ("single_choice", "multiple_choice"):
        row[TYPE] = (
            "checkbox"
            if f.type == "multiple_choice"
            else ("dropdown" if f.widget == "dropdown" else "radio")
        )
        row[CHOICES] = " | ".join(f"{c.value}, {_en(c.label)}" for c in f.choices)
    elif f.type == "yes_no":
        row[TYPE] = "yesno"
    elif f.type == "scale":
        row[TYPE] = "radio"
        anchors = {c.value: _en(c.label) for c in f.choices}
        row[CHOICES] = " | ".join(f"{p}, {anchors.get(p, p)}" for p in f.scale_points())
        tags.append("@TRIALDM-SCALE")
        if f.reverse:
            tags.append("@TRIALDM-REVERSE")
    if f.units:
        tags.append(f'@TRIALDM-UNITS="{f.units}"')
    row[ANNOTATION] = " ".join(tags)
    return row


def _score_row(definition: InstrumentDefinition, score: ScoreDefinition) -> dict[str, str]:
    row = dict.fromkeys(COLUMNS, "")
    fields = definition.fields_by_name
    terms = []
    for name in score.items:
        f = fields[name]
        if f.reverse:
            terms.append(f"({f.min + f.max}-[{name}])")
        else:
            terms.append(f"[{name}]")
    row.update(
        {
            VARIABLE: score.name,
            FORM: definition.name,
            TYPE: "calc",
            LABEL: _en(score.label),
            CHOICES: f"sum({','.join(terms)})",
            ANNOTATION: "@TRIALDM-SCORE"
            + (f" @TRIALDM-MIN-ANSWERED={score.min_answered}" if score.min_answered else ""),
        }
    )
    return row


def export_dictionary(definitions: Iterable[InstrumentDefinition]) -> str:
    """A REDCap data dictionary (CSV text) of the definitions."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for definition in definitions:
        for f in definition.fields:
            writer.writerow(_field_row(definition, f))
        for score in definition.scores:
            writer.writerow(_score_row(definition, score))
    return out.getvalue()


# ---------------------------------------------------------------- import


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[DefinitionProblem] = []

    def add(self, line: int, variable: str, reason: str) -> None:
        self.problems.append(DefinitionProblem(self.source, f"line {line}: {variable}", reason))


def _tags(annotation: str) -> dict[str, str]:
    return {name: (value or "").strip("\"'") for name, value in _TAG.findall(annotation or "")}


def _parse_choices(raw: str) -> list[tuple[str, str]]:
    choices = []
    for part in (raw or "").split("|"):
        if not part.strip():
            continue
        code, _, label = part.partition(",")
        choices.append((code.strip(), label.strip() or code.strip()))
    return choices


def _bound(kind: str, raw: str) -> Any:
    raw = (raw or "").strip()
    if not raw:
        return None
    if kind == "date":
        return raw
    try:
        return int(raw)
    except ValueError:
        if kind == "decimal":
            try:
                return float(raw)
            except ValueError:
                pass
    return raw  # reported by the definition's validation


def _condition_value(target: dict[str, Any], raw: str) -> Any:
    value = raw.strip("'\"")
    kind = target["type"]
    try:
        if kind == "yes_no":
            return {"1": True, "0": False}.get(value, value)
        if kind in ("integer", "scale"):
            return int(value)
        if kind == "decimal":
            return float(value)
    except ValueError:
        return value
    return value


def _parse_branching(
    reader: _Reader, line: int, variable: str, logic: str, fields: dict[str, dict[str, Any]]
) -> dict[str, Any] | None:
    parts = re.split(r"\s+or\s+", logic.strip(), flags=re.IGNORECASE)
    terms = [_TERM.match(part) for part in parts]
    unsupported = (
        f"branching logic {logic!r} is not of the simple forms [f] = 'v', [f] <> 'v', "
        "[f] = 'a' or [f] = 'b', [f(code)] = '1'"
    )
    if not all(terms) or " and " in logic.lower():
        reader.add(line, variable, unsupported)
        return None
    names = {t["field"] for t in terms if t}
    if len(names) != 1:
        reader.add(line, variable, unsupported)
        return None
    name = names.pop()
    target = fields.get(name)
    if target is None:
        reader.add(line, variable, f"branching logic refers to {name!r}, not an earlier field")
        return None
    first = terms[0]
    assert first is not None
    if first["code"] is not None:
        if len(terms) != 1 or first["op"] != "=" or first["value"].strip("'\"") != "1":
            reader.add(line, variable, unsupported)
            return None
        return {"field": name, "contains": first["code"].strip().strip("'\"")}
    values = [_condition_value(target, t["value"]) for t in terms if t]
    if len(terms) > 1:
        if any(t["op"] != "=" for t in terms if t):
            reader.add(line, variable, unsupported)
            return None
        return {"field": name, "any_of": values}
    return {"field": name, "equals" if first["op"] == "=" else "not_equals": values[0]}


def _read_field(
    reader: _Reader, line: int, row: dict[str, str], fields: dict[str, dict[str, Any]]
) -> dict[str, Any] | None:
    variable = row[VARIABLE].strip()
    kind = row[TYPE].strip().lower()
    tags = _tags(row.get(ANNOTATION, ""))
    raw: dict[str, Any] = {"name": variable, "label": {"en": row[LABEL].strip() or variable}}
    if row.get(NOTE, "").strip():
        raw["help"] = {"en": row[NOTE].strip()}
    if row.get(SECTION, "").strip():
        raw["section"] = {"en": row[SECTION].strip()}
    if row.get(REQUIRED, "").strip().lower() in ("y", "yes", "1"):
        raw["required"] = True
    if "TRIALDM-UNITS" in tags:
        raw["units"] = tags["TRIALDM-UNITS"]
    validation = row.get(VALIDATION, "").strip().lower()
    if kind in ("text", "notes"):
        if kind == "notes" or not validation:
            raw["type"] = "text"
            if kind == "notes":
                raw["multiline"] = True
            if tags.get("CHARLIMIT", "").isdigit():
                raw["max_length"] = int(tags["CHARLIMIT"])
        elif validation in _READ_VALIDATION:
            raw["type"] = _READ_VALIDATION[validation]
            for key, column in (("min", VMIN), ("max", VMAX)):
                bound = _bound(raw["type"], row.get(column, ""))
                if bound is not None:
                    raw[key] = bound
        else:
            reader.add(line, variable, f"text validation {validation!r} is not supported")
            return None
    elif kind in ("radio", "dropdown", "checkbox"):
        choices = _parse_choices(row.get(CHOICES, ""))
        if "TRIALDM-SCALE" in tags and kind == "radio":
            try:
                points = [int(code) for code, _ in choices]
            except ValueError:
                reader.add(line, variable, "a scale's choice codes must be whole numbers")
                return None
            raw["type"] = "scale"
            raw["min"], raw["max"] = (min(points), max(points)) if points else (None, None)
            anchors = [
                {"value": int(code), "label": {"en": label}}
                for code, label in choices
                if label != code
            ]
            if anchors:
                raw["choices"] = anchors
            if "TRIALDM-REVERSE" in tags:
                raw["reverse"] = True
        else:
            raw["type"] = "multiple_choice" if kind == "checkbox" else "single_choice"
            raw["choices"] = [{"value": code, "label": {"en": label}} for code, label in choices]
            if kind == "dropdown":
                raw["widget"] = "dropdown"
    elif kind in ("yesno", "truefalse"):
        raw["type"] = "yes_no"
    elif kind == "slider":
        raw["type"] = "scale"
        raw["min"] = _bound("integer", row.get(VMIN, "")) or 0
        raw["max"] = _bound("integer", row.get(VMAX, "")) or 100
    else:
        reader.add(line, variable, f"field type {kind!r} is not supported")
        return None
    logic = row.get(BRANCHING, "").strip()
    if logic:
        condition = _parse_branching(reader, line, variable, logic, fields)
        if condition is not None:
            raw["show_if"] = condition
    return raw


def _read_score(reader: _Reader, line: int, row: dict[str, str]) -> dict[str, Any] | None:
    variable = row[VARIABLE].strip()
    formula = row.get(CHOICES, "").strip()
    if not re.match(r"^(sum|round)\(", formula, flags=re.IGNORECASE):
        reader.add(line, variable, f"calculation {formula!r} is not a sum of fields")
        return None
    items = list(dict.fromkeys(re.findall(r"\[([a-z][a-z0-9_]*)\]", formula)))
    raw: dict[str, Any] = {
        "name": variable,
        "label": {"en": row[LABEL].strip() or variable},
        "method": "sum",
        "items": items,
    }
    min_answered = _tags(row.get(ANNOTATION, "")).get("TRIALDM-MIN-ANSWERED", "")
    if min_answered.isdigit():
        raw["min_answered"] = int(min_answered)
    return raw


def _title(form: str) -> str:
    return form.replace("_", " ").strip().capitalize()


def import_dictionary(
    text: str, *, version: int = 1, source: str = "dictionary.csv"
) -> list[InstrumentDefinition]:
    """Definitions (one per form) from a REDCap data dictionary's CSV text."""
    reader = _Reader(source)
    rows = csv.reader(io.StringIO(text))
    header = [h.strip() for h in next(rows, [])]
    if header[: len(COLUMNS)] != list(COLUMNS):
        missing = [c for c in COLUMNS if c not in header]
        reason = (
            f"missing column(s): {', '.join(missing)}"
            if missing
            else "the columns are not in REDCap's order"
        )
        raise DefinitionError([DefinitionProblem(source, "(header)", reason)])
    forms: dict[str, dict[str, Any]] = {}
    for line, values in enumerate(rows, start=2):
        if not any(v.strip() for v in values):
            continue
        row = dict(zip(COLUMNS, values + [""] * (len(COLUMNS) - len(values)), strict=False))
        variable, form = row[VARIABLE].strip(), row[FORM].strip()
        if not variable or not form:
            reader.add(line, variable or "(row)", "needs a variable and a form name")
            continue
        data = forms.setdefault(
            form, {"fields": {}, "scores": [], "lines": {}, "title": _title(form)}
        )
        kind = row[TYPE].strip().lower()
        if kind == "descriptive":
            continue  # text shown on the form, no data
        if kind == "calc":
            score = _read_score(reader, line, row)
            if score is not None:
                data["scores"].append(score)
            continue
        raw_field = _read_field(reader, line, row, data["fields"])
        if raw_field is not None:
            data["fields"][variable] = raw_field
    definitions = []
    for form, data in forms.items():
        try:
            definitions.append(
                parse_definition(
                    {
                        "name": form,
                        "version": version,
                        "title": {"en": data["title"]},
                        "fields": list(data["fields"].values()),
                        "scores": data["scores"],
                    },
                    source,
                )
            )
        except DefinitionError as exc:
            reader.problems += exc.problems
    if reader.problems:
        raise DefinitionError(reader.problems)
    return definitions


def write_definition(definition: InstrumentDefinition, path: Path) -> None:
    """Write a definition as an instrument file (TOML)."""
    header = (
        f"# {_en(definition.title)}: imported from a REDCap data dictionary.\n"
        '# Add labels in other languages as label = { en = "...", de = "..." }.\n'
    )
    path.write_text(header + tomli_w.dumps(definition.to_dict()), encoding="utf-8")
