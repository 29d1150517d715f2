"""Cells of the summary workbooks: texts always stored as text (a value beginning
with = + - @ tab or CR gets Excel's quote prefix, never becomes a formula), characters
XML cannot hold taken out, and one registered style per combination of quote prefix,
number format, font and alignment."""

from __future__ import annotations

import re
from collections.abc import Sequence
from copy import copy
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from trialdm.summaries.listing_sheet import FastRows

HOSTILE_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Characters XML 1.0 cannot hold (openpyxl refuses them); tab, LF and CR are fine.
ILLEGAL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=13)
NOTE = Font(italic=True, size=9)
INDENT = Alignment(indent=1)
HEADER = Alignment(horizontal="center", vertical="center", wrap_text=True)
HEADER_LEFT = Alignment(horizontal="left", vertical="center")
PRINTED = Alignment(horizontal="center")
WRAP_TOP = Alignment(wrap_text=True, vertical="top")
MAX_WIDTH = 60


def excel_safe(value: str) -> str:
    return ILLEGAL_CHARS.sub("", value)


def cell(
    ws: WriteOnlyWorksheet, value: Any, number_format: str | None = None, font=None, alignment=None
) -> WriteOnlyCell:
    """A cell whose strings are always text and whose numbers keep their format."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.replace(tzinfo=None)  # Excel has no time zones; we write UTC
    if isinstance(value, str):
        value = excel_safe(value)
    c = WriteOnlyCell(ws, value=value)
    quoted = False
    if isinstance(value, str):
        c.data_type = "s"
        quoted = value.startswith(HOSTILE_PREFIXES)
    if isinstance(value, str) or value is None:
        number_format = None  # a text or an empty cell keeps the general format
    if not (quoted or number_format) and font is None and alignment is None:
        return c
    # Setting a style registers (hashes) each part with the workbook: done once per
    # combination, then the cell takes a copy of the first one's style.
    styles = _styles_of(ws.parent)
    key = (quoted, number_format, id(font), id(alignment))
    found = styles.get(key)
    if found is None:
        if quoted:
            c.quotePrefix = True
        if number_format:
            c.number_format = number_format
        if font is not None:
            c.font = font
        if alignment is not None:
            c.alignment = alignment
        # font and alignment kept with it, so that their ids stay theirs
        styles[key] = (copy(c._style), font, alignment)
    else:
        c._style = copy(found[0])
    return c


def text_style(ws: WriteOnlyWorksheet, font=None, alignment=None) -> str | None:
    """The style id openpyxl writes for a text (or empty) cell of :func:`cell` with
    this font and alignment; None for the default style. Registered with the workbook
    the first time it is asked for, as writing the first such cell registers it."""
    styles = _styles_of(ws.parent)
    key = ("text", id(font), id(alignment))
    found = styles.get(key)
    if found is None:
        c = cell(ws, "", font=font, alignment=alignment)
        found = styles[key] = (str(c.style_id) if c.has_style else None, font, alignment)
    return found[0]


# A text cell: its text (None: empty), font and alignment.
TextCell = tuple[str | None, Any, Any]


def text_row(
    ws: WriteOnlyWorksheet, fast: FastRows, row_idx: int, line: Sequence[TextCell | None]
) -> Any:
    """A row of text cells (None where the row has no cell) to append at ``row_idx``:
    prepared XML (:meth:`FastRows.texts`), or :func:`cell`'s cells when a text needs
    openpyxl."""
    values = [None if c is None else c[0] for c in line]
    styles = [None if c is None else text_style(ws, c[1], c[2]) for c in line]
    prepared = fast.texts(values, row_idx, styles)
    if prepared is not None:
        return prepared
    return [None if c is None else cell(ws, c[0], font=c[1], alignment=c[2]) for c in line]


def _styles_of(wb: Workbook) -> dict[tuple[Any, ...], tuple[Any, Any, Any]]:
    """A workbook's cell styles by (quote prefix, number format, font, alignment)."""
    styles = getattr(wb, "_trialdm_cell_styles", None)
    if styles is None:
        styles = {}
        wb._trialdm_cell_styles = styles  # type: ignore[attr-defined]
    return styles


def text_width(text: Any) -> int:
    if text is None:
        return 0
    if isinstance(text, float):
        return len(f"{text:.2f}")
    if isinstance(text, (date, datetime)):
        return 18
    return max(map(len, str(text).splitlines()), default=0)


def set_widths(ws: WriteOnlyWorksheet, widths: Sequence[int]) -> None:
    for index, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(index)].width = min(max(width + 2, 6), MAX_WIDTH)


def needs_quoting(value: str) -> bool:
    """A text that only :func:`cell` writes as it is (formula-like, or holding
    characters XML cannot)."""
    return value.startswith(HOSTILE_PREFIXES) or bool(ILLEGAL_CHARS.search(value))


def needs_care(value: str) -> bool:
    """A text the fast listing rows leave to :func:`cell` (and openpyxl)."""
    return needs_quoting(value) or len(value) > 32767
