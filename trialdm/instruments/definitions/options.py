"""Field options beyond type and label: widgets, answer formats (REDCap's validation
types), and what a REDCap dictionary carries about presentation (identifier flags,
matrix groups, alignment, question numbers, action tags), checked one by one."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol

from trialdm.instruments.definitions.model import (
    ALIGNMENTS,
    DATE_ORDERS,
    DATETIME_FORMATS,
    ORDERED_FORMATS,
    TEXT_FORMATS,
    WIDGETS,
)

_MATRIX = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class Reporter(Protocol):
    def add(self, where: str, reason: str) -> None: ...


def _flag(check: Reporter, where: str, raw: Mapping[str, Any], key: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        check.add(f"{where}.{key}", "must be true or false")
        return False
    return value


def _text(check: Reporter, where: str, raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        check.add(f"{where}.{key}", "must be non-empty text")
        return None
    return value


def text_bound(check: Reporter, at: str, text_format: str | None, value: Any) -> Any:
    """A min or max of a text field: only for time and datetime formats, in that format
    (they sort as text in time order)."""
    if value is None:
        return None
    if text_format not in ORDERED_FORMATS:
        check.add(at, f"for text only with format {', '.join(ORDERED_FORMATS)}")
        return None
    pattern, shown = TEXT_FORMATS[text_format]
    if not isinstance(value, str) or not re.match(pattern, value):
        check.add(at, f"must be {shown}")
        return None
    return value


def parse_options(check: Reporter, where: str, kind: str, raw: Mapping[str, Any]) -> dict:
    """The options of one field as keyword arguments of ``FieldDefinition``."""
    out: dict[str, Any] = {}
    widget = raw.get("widget")
    if widget is not None and widget not in WIDGETS.get(kind, ()):
        allowed = "; ".join(f"{', '.join(w)} for {t}" for t, w in WIDGETS.items())
        check.add(f"{where}.widget", f"{widget!r} is not a widget of {kind} ({allowed})")
        widget = None
    out["widget"] = widget

    text_format = raw.get("format")
    if text_format is not None and (kind != "text" or text_format not in TEXT_FORMATS):
        check.add(f"{where}.format", f"for text only, one of {', '.join(TEXT_FORMATS)}")
        text_format = None
    out["format"] = text_format

    order = raw.get("date_order")
    if order is not None and (
        order not in DATE_ORDERS or not (kind == "date" or text_format in DATETIME_FORMATS)
    ):
        check.add(
            f"{where}.date_order",
            f"one of {', '.join(DATE_ORDERS)}, for dates and datetime text only",
        )
        order = None
    out["date_order"] = order

    decimals = raw.get("decimals")
    if decimals is not None and (
        kind != "decimal" or isinstance(decimals, bool) or decimals not in (1, 2, 3, 4)
    ):
        check.add(f"{where}.decimals", "1 to 4, for decimal fields only")
        decimals = None
    out["decimals"] = decimals

    out["show_number"] = _flag(check, where, raw, "show_number")
    if out["show_number"] and widget != "slider":
        check.add(f"{where}.show_number", "only for a slider")
    out["identifier"] = _flag(check, where, raw, "identifier")
    out["matrix_ranking"] = _flag(check, where, raw, "matrix_ranking")
    matrix = _text(check, where, raw, "matrix")
    if matrix is not None and (
        not _MATRIX.match(matrix) or kind not in ("single_choice", "multiple_choice")
    ):
        check.add(
            f"{where}.matrix",
            "a lowercase group name, for single and multiple choice fields only",
        )
        matrix = None
    out["matrix"] = matrix
    if out["matrix_ranking"] and matrix is None:
        check.add(f"{where}.matrix_ranking", "only for a field of a matrix group")
    alignment = raw.get("alignment")
    if alignment is not None and alignment not in ALIGNMENTS:
        check.add(f"{where}.alignment", f"one of {', '.join(ALIGNMENTS)}")
        alignment = None
    out["alignment"] = alignment
    out["question_number"] = _text(check, where, raw, "question_number")
    out["annotation"] = _text(check, where, raw, "annotation")
    return out
