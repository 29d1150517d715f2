"""Reading one row of a REDCap data dictionary: a field, or a calculated field as a
score, as the raw data of a definition; each problem reported on the row's line and
variable, and what the export will write differently noted in the row's report."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from trialdm.instruments.definitions import DefinitionProblem, action_tags
from trialdm.instruments.definitions.dates import as_date_bound
from trialdm.instruments.logic import Call, LogicError, Node, Number, Operation, Ref, parse
from trialdm.instruments.redcap import (
    ALIGNMENT,
    ANNOTATION,
    BRANCHING,
    CHOICES,
    IDENTIFIER,
    LABEL,
    MATRIX_GROUP,
    MATRIX_RANKING,
    NOTE,
    QUESTION_NUMBER,
    READ_VALIDATION,
    READ_VALIDATION_ALIASES,
    REQUIRED,
    SECTION,
    TAG,
    TYPE,
    VALIDATION,
    VARIABLE,
    VMAX,
    VMIN,
)

# annotation tags that become definition keys (the rest is kept as written)
_MAPPED_TAGS = ("CHARLIMIT", "TRIALDM-SCALE", "TRIALDM-REVERSE", "TRIALDM-UNITS")
_SCORE_TAGS = ("TRIALDM-SCORE", "TRIALDM-MIN-ANSWERED")
_YES = ("y", "yes", "1")
_REFUSED_TYPES = {
    "file": "file upload and signature fields are not supported: trialdm stores no attachments",
    "sql": "sql fields are not supported: they query REDCap's own database",
}


@dataclass
class FieldReport:
    """What became of one row of the dictionary."""

    line: int
    variable: str
    form: str
    changed: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "dropped" if self.dropped else "changed" if self.changed else "kept"

    def __str__(self) -> str:
        notes = [f"changed: {n}" for n in self.changed] + [f"dropped: {n}" for n in self.dropped]
        tail = f" ({'; '.join(notes)})" if notes else ""
        return f"line {self.line}: {self.form}.{self.variable}: {self.status}{tail}"


class Reader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[DefinitionProblem] = []

    def add(self, line: int, variable: str, reason: str) -> None:
        self.problems.append(DefinitionProblem(self.source, f"line {line}: {variable}", reason))


_tags = action_tags


def _kept_annotation(annotation: str, mapped: tuple[str, ...]) -> str | None:
    """The annotation without the tags that became definition keys."""
    kept = TAG.sub(lambda m: "" if m.group(1) in mapped else m.group(0), annotation or "")
    kept = kept.strip()
    if kept != (annotation or "").strip():
        kept = re.sub(r"[ \t]{2,}", " ", kept)
    return kept or None


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
    if kind in ("date", "text"):
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


def _redcap_date_bound(text: str) -> bool:
    """What REDCap accepts as a date field's min or max: a day (Y-M-D) or ``today``."""
    return text.lower() == "today" or isinstance(as_date_bound(text), date)


def _common(row: dict[str, str], variable: str) -> dict[str, Any]:
    raw: dict[str, Any] = {"name": variable, "label": {"en": row[LABEL].strip() or variable}}
    if row[NOTE].strip():
        raw["help"] = {"en": row[NOTE].strip()}
    if row[SECTION].strip():
        raw["section"] = {"en": row[SECTION].strip()}
    return raw


def _read_text(
    reader: Reader,
    line: int,
    variable: str,
    kind: str,
    row: dict[str, str],
    raw: dict[str, Any],
    tags: dict[str, str],
    report: FieldReport,
) -> bool:
    validation = row[VALIDATION].strip().lower()
    if validation in READ_VALIDATION_ALIASES:
        report.changed.append(
            f"validation {validation!r} is written back as {READ_VALIDATION_ALIASES[validation]!r}"
        )
        validation = READ_VALIDATION_ALIASES[validation]
    raw["type"] = "text"
    if kind == "notes":
        raw["multiline"] = True
        if validation:
            report.dropped.append(f"validation {validation!r} (REDCap ignores it on notes)")
            validation = ""
    if validation:
        if validation not in READ_VALIDATION:
            reader.add(line, variable, f"text validation {validation!r} is not supported")
            return False
        raw["type"], options = READ_VALIDATION[validation]
        raw.update(options)
    if raw["type"] != "text" or raw.get("format"):
        for key, column in (("min", VMIN), ("max", VMAX)):
            bound = _bound(raw["type"], row[column])
            if raw["type"] == "date" and bound is not None and not _redcap_date_bound(bound):
                reader.add(
                    line, variable, f"date validation {key} {bound!r} is neither a date nor 'today'"
                )
                return False
            if bound is not None:
                raw[key] = bound
    if tags.get("CHARLIMIT", "").isdigit():
        raw["max_length"] = int(tags["CHARLIMIT"])
    return True


def _read_choices(
    reader: Reader,
    line: int,
    variable: str,
    kind: str,
    row: dict[str, str],
    raw: dict[str, Any],
    tags: dict[str, str],
) -> bool:
    choices = _parse_choices(row[CHOICES])
    if "TRIALDM-SCALE" in tags and kind == "radio":
        try:
            points = [int(code) for code, _ in choices]
        except ValueError:
            reader.add(line, variable, "a scale's choice codes must be whole numbers")
            return False
        raw["type"] = "scale"
        raw["min"], raw["max"] = (min(points), max(points)) if points else (None, None)
        anchors = [
            {"value": int(code), "label": {"en": label}} for code, label in choices if label != code
        ]
        if anchors:
            raw["choices"] = anchors
        return True
    raw["type"] = "multiple_choice" if kind == "checkbox" else "single_choice"
    raw["choices"] = [{"value": code, "label": {"en": label}} for code, label in choices]
    if kind == "dropdown":
        autocomplete = row[VALIDATION].strip().lower() == "autocomplete"
        raw["widget"] = "autocomplete" if autocomplete else "dropdown"
    return True


def _read_slider(
    reader: Reader,
    line: int,
    variable: str,
    row: dict[str, str],
    raw: dict[str, Any],
    report: FieldReport,
) -> bool:
    raw.update(type="scale", widget="slider")
    for key, column, default in (("min", VMIN, 0), ("max", VMAX, 100)):
        bound = _bound("integer", row[column])
        if bound is None:
            report.changed.append(f"{key} blank: REDCap's default {default} written out")
        raw[key] = default if bound is None else bound
    if not all(isinstance(raw[k], int) for k in ("min", "max")):
        reader.add(line, variable, "a slider's min and max must be whole numbers")
        return False
    validation = row[VALIDATION].strip().lower()
    if validation not in ("", "number"):
        reader.add(line, variable, f"slider option {validation!r} is not supported")
        return False
    if validation == "number":
        raw["show_number"] = True
    labels = [part.strip() for part in row[CHOICES].split("|")] if row[CHOICES].strip() else []
    low, high = raw["min"], raw["max"]
    positions = {1: [low], 2: [low, high], 3: [low, (low + high) / 2, high]}.get(len(labels))
    if positions is None:
        reader.add(line, variable, "a slider has at most three labels (left | middle | right)")
        return False
    anchors = []
    for at, label in zip(positions, labels, strict=True):
        if not label:
            continue
        if at != int(at):
            reader.add(line, variable, f"the middle of {low}-{high} is not a whole number")
            return False
        anchors.append({"value": int(at), "label": {"en": label}})
    if anchors:
        raw["choices"] = anchors
    return True


def _note_spacing(row: dict[str, str], kind: str, report: FieldReport) -> None:
    """Whitespace the export writes differently: REDCap's own spacing of choices and
    labels without surrounding blanks or line breaks."""
    for column in (LABEL, NOTE, SECTION):
        if row[column] != row[column].strip():
            report.changed.append(f"{column}: surrounding blanks and line breaks removed")
    if kind in ("radio", "dropdown", "checkbox") and row[CHOICES].strip():
        written = " | ".join(f"{code}, {label}" for code, label in _parse_choices(row[CHOICES]))
        if written != row[CHOICES]:
            report.changed.append(f"{CHOICES}: written as {written!r}")


def read_field(
    reader: Reader, line: int, row: dict[str, str], report: FieldReport
) -> dict[str, Any] | None:
    variable = row[VARIABLE].strip()
    kind = row[TYPE].strip().lower()
    annotation = row[ANNOTATION]
    tags = _tags(annotation)
    raw = _common(row, variable)
    if row[REQUIRED].strip().lower() in _YES:
        raw["required"] = True
    if row[IDENTIFIER].strip().lower() in _YES:
        raw["identifier"] = True
    for key, column in (
        ("alignment", ALIGNMENT),
        ("question_number", QUESTION_NUMBER),
        ("matrix", MATRIX_GROUP),
    ):
        if row[column].strip():
            raw[key] = row[column].strip()
    if row[MATRIX_RANKING].strip().lower() in _YES:
        raw["matrix_ranking"] = True
    if "TRIALDM-UNITS" in tags:
        raw["units"] = tags["TRIALDM-UNITS"]
    if "TRIALDM-REVERSE" in tags:
        raw["reverse"] = True
    if kind in _REFUSED_TYPES:
        reader.add(line, variable, f"field type {kind!r}: {_REFUSED_TYPES[kind]}")
        return None
    if kind in ("text", "notes"):
        ok = _read_text(reader, line, variable, kind, row, raw, tags, report)
    elif kind in ("radio", "dropdown", "checkbox"):
        ok = _read_choices(reader, line, variable, kind, row, raw, tags)
    elif kind in ("yesno", "truefalse"):
        raw["type"] = "yes_no"
        if kind == "truefalse":
            raw["widget"] = "truefalse"
        ok = True
    elif kind == "slider":
        ok = _read_slider(reader, line, variable, row, raw, report)
    elif kind == "descriptive":
        raw["type"] = "descriptive"
        ok = True
    else:
        reader.add(line, variable, f"field type {kind!r} is not supported")
        return None
    if not ok:
        return None
    for column in (CHOICES, VALIDATION, VMIN, VMAX):
        used = (
            (column == CHOICES and kind in ("radio", "dropdown", "checkbox", "slider"))
            or (column == VALIDATION and kind in ("text", "notes", "slider"))
            or (column == VALIDATION and kind == "dropdown" and raw.get("widget") == "autocomplete")
            or (column in (VMIN, VMAX) and kind == "slider")
            or (column in (VMIN, VMAX) and ("min" in raw or "max" in raw))
        )
        if row[column].strip() and not used:
            report.dropped.append(f"{column} {row[column].strip()!r} (not used by {kind})")
    kept = _kept_annotation(annotation, _MAPPED_TAGS)
    if kept:
        raw["annotation"] = kept
    _note_spacing(row, kind, report)
    logic = row[BRANCHING].strip()
    if logic:
        try:
            parse(logic)
        except LogicError as exc:
            reader.add(line, variable, f"branching logic {logic!r}: {exc}")
            return None
        raw["show_if"] = logic  # kept exactly; references are checked with the form
    return raw


def _sum_items(tree: Node, fields: dict[str, dict[str, Any]]) -> list[str] | None:
    """The items of a trialdm sum score as export writes it (``sum([a],(4-[b]))``,
    reverse-scored items flipped), or None for any other form."""
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


def read_score(
    reader: Reader,
    line: int,
    row: dict[str, str],
    fields: dict[str, dict[str, Any]],
    after: str | None,
) -> dict[str, Any] | None:
    """A calculated field: a trialdm sum score when it is one trialdm wrote
    (``@TRIALDM-SCORE``), otherwise a calculation kept exactly as written."""
    variable = row[VARIABLE].strip()
    unsupported = [
        column
        for column in (
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
        )
        if row[column].strip()
    ]
    if unsupported:
        reader.add(
            line,
            variable,
            f"a calculated field with {', '.join(repr(c) for c in unsupported)} is not "
            "supported (a calculation is always computed and shown)",
        )
        return None
    formula = row[CHOICES].strip()
    try:
        tree = parse(formula)
    except LogicError as exc:
        reader.add(line, variable, f"calculation {formula!r}: {exc}")
        return None
    raw = _common(row, variable)
    if after is not None:
        raw["after"] = after
    tags = _tags(row[ANNOTATION])
    items = _sum_items(tree, fields) if "TRIALDM-SCORE" in tags else None
    if items is None:
        raw.update(method="calc", calculation=formula)
        kept = _kept_annotation(row[ANNOTATION], ())
    else:
        raw.update(method="sum", items=items)
        min_answered = tags.get("TRIALDM-MIN-ANSWERED", "")
        if min_answered.isdigit():
            raw["min_answered"] = int(min_answered)
        kept = _kept_annotation(row[ANNOTATION], _SCORE_TAGS)
    if kept:
        raw["annotation"] = kept
    return raw
