"""REDCap data dictionary interchange (the 18 standard columns of REDCap's CSV).

Export writes one row per field, computed scores as ``calc`` fields. Import reads a
dictionary into one definition per form (``Form Name``), with every problem reported
as file, ``line N: variable`` and reason. A round trip keeps fields, types, choices,
validation (integer, number, date_ymd with min/max), required flags, help, section
headers, branching logic and calculations. English labels only: REDCap keeps translations
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
score (sum)            ``calc``: ``sum([a],(4-[b]))`` with ``@TRIALDM-SCORE``
                       (``@TRIALDM-MIN-ANSWERED=n``)
score (calc)           ``calc`` with its calculation text, kept exactly
units                  ``@TRIALDM-UNITS=...``
show_if                branching logic, kept exactly (a table-form condition
                       is written as the REDCap text of its tree)
=====================  =====================================================

Branching logic and calculations are parsed by the grammar of
:mod:`trialdm.instruments.logic`; what it cannot evaluate exactly is refused with the
line, the variable and the unsupported part.
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
from trialdm.instruments.logic import Call, LogicError, Node, Number, Operation, Ref, parse

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


def _en(labels: dict[str, str]) -> str:
    return labels.get("en", "")


def _number(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _branching(f: FieldDefinition) -> str:
    return f.show_if.text if f.show_if is not None else ""


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
            BRANCHING: _branching(f),
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
    if score.calculation is not None:
        row.update(
            {
                VARIABLE: score.name,
                FORM: definition.name,
                TYPE: "calc",
                LABEL: _en(score.label),
                CHOICES: score.calculation.text,
            }
        )
        return row
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
        try:
            parse(logic)
        except LogicError as exc:
            reader.add(line, variable, f"branching logic {logic!r}: {exc}")
            return None
        raw["show_if"] = logic  # kept exactly; references are checked with the form
    return raw


def _sum_items(tree: Node, fields: dict[str, dict[str, Any]]) -> list[str] | None:
    """The items of a trialdm sum score as :func:`_score_row` writes it
    (``sum([a],(4-[b]))``, reverse-scored items flipped), or None for any other form."""
    if not isinstance(tree, Call) or tree.name != "sum":
        return None
    items = []
    for arg in tree.args:
        flipped = None
        if isinstance(arg, Operation) and arg.op == "-" and isinstance(arg.args[0], Number):
            flipped, arg = arg.args[0].value, arg.args[1]
        if not isinstance(arg, Ref) or arg.code is not None or arg.field not in fields:
            return None
        target = fields[arg.field]
        reverse = bool(target.get("reverse"))
        if reverse != (flipped is not None):
            return None
        if reverse and flipped != target["min"] + target["max"]:
            return None
        items.append(arg.field)
    return items


def _read_score(
    reader: _Reader, line: int, row: dict[str, str], fields: dict[str, dict[str, Any]]
) -> dict[str, Any] | None:
    """A calculated field: a trialdm sum score when it is one written by trialdm
    (``@TRIALDM-SCORE``), otherwise a calculation kept exactly as written."""
    variable = row[VARIABLE].strip()
    formula = row.get(CHOICES, "").strip()
    try:
        tree = parse(formula)
    except LogicError as exc:
        reader.add(line, variable, f"calculation {formula!r}: {exc}")
        return None
    raw: dict[str, Any] = {"name": variable, "label": {"en": row[LABEL].strip() or variable}}
    tags = _tags(row.get(ANNOTATION, ""))
    items = _sum_items(tree, fields) if "TRIALDM-SCORE" in tags else None
    if items is None:
        raw.update(method="calc", calculation=formula)
        return raw
    raw.update(method="sum", items=items)
    min_answered = tags.get("TRIALDM-MIN-ANSWERED", "")
    if min_answered.isdigit():
        raw["min_answered"] = int(min_answered)
    return raw


_PATH = re.compile(r"^(?:fields|scores)\.(?P<name>[a-z][a-z0-9_]*)(?:\.(?P<rest>.+))?$")


def _on_line(problem: DefinitionProblem, lines: dict[str, int]) -> DefinitionProblem:
    """A problem found in the converted definition, placed on the dictionary's line
    and variable (``line 7: bmi``) instead of the definition's path."""
    match = _PATH.match(problem.field)
    if match is None or match["name"] not in lines:
        return problem
    reason = problem.reason
    if match["rest"] and match["rest"] not in ("show_if", "calculation"):
        reason = f"{match['rest']}: {reason}"
    return DefinitionProblem(problem.file, f"line {lines[match['name']]}: {match['name']}", reason)


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
        data["lines"][variable] = line
        kind = row[TYPE].strip().lower()
        if kind == "descriptive":
            continue  # text shown on the form, no data
        if kind == "calc":
            score = _read_score(reader, line, row, data["fields"])
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
            reader.problems += [_on_line(p, data["lines"]) for p in exc.problems]
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
