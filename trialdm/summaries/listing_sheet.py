"""The participant listing's rows written straight as sheet XML.

A listing is one line per person, and openpyxl's write-only sheet spends most of a
large build on it: per cell it makes a cell object, binds and checks its value,
and opens three XML elements through context managers. Here each row is written
as XML text and parsed into one element at once (inline strings, numbers and dates
with a prepared style), given to the same write-only sheet and its writer, so the
file is what openpyxl would write for those values; every other row of the sheet (title, header, the
summary table) still goes through openpyxl.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from lxml.etree import fromstring
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.worksheet._write_only import WriteOnlyWorksheet


class PreparedRow(tuple):
    """A row already made into its XML element (a tuple, as the sheet accepts)."""

    element: Any


class FastRows:
    """Appends rows of plain values (str, int, float, date, None) to a write-only
    sheet as prepared XML; a string that needs care (a formula-like or illegal
    character) comes from ``fallback`` as an openpyxl cell and is written by
    openpyxl in its row."""

    def __init__(
        self,
        ws: WriteOnlyWorksheet,
        number_formats: Sequence[str | None],
        needs_care: Callable[[str], bool],
    ) -> None:
        self.ws = ws
        self.needs_care = needs_care
        self.letters = [get_column_letter(i) for i in range(1, len(number_formats) + 1)]
        self.styles = [self._style_id(f) if f else None for f in number_formats]
        self._date_style: str | None = None  # registered with the first date written
        self.epoch = ws.parent.epoch
        self._hook()

    def _style_id(self, number_format: str) -> str | None:
        """The sheet's style id of a number format; None for the default style (id 0),
        whose cells openpyxl writes without one."""
        template = WriteOnlyCell(self.ws, value=0)
        template.number_format = number_format
        return str(template.style_id) if template.has_style else None

    def _dates(self) -> str | None:
        if self._date_style is None:
            self._date_style = self._style_id("yyyy-mm-dd")
        return self._date_style

    def style_of(self, number_format: str | None) -> str | None:
        """A number format's style id for :meth:`row`'s ``styles``."""
        return self._style_id(number_format) if number_format else None

    def _hook(self) -> None:
        """Let prepared rows pass the sheet's conversion and writer untouched."""
        ws = self.ws
        ws._get_writer()
        to_row, write_row = ws._values_to_row, ws._writer.write_row

        def values_to_row(values: Any, row_idx: int) -> Any:
            return values if isinstance(values, PreparedRow) else to_row(values, row_idx)

        def write(xf: Any, row: Any, row_idx: int) -> None:
            if isinstance(row, PreparedRow):
                row.element.set("r", str(row_idx))
                xf.write(row.element)
            else:
                write_row(xf, row, row_idx)

        ws._values_to_row = values_to_row  # type: ignore[method-assign]
        ws._writer.write_row = write  # type: ignore[method-assign]

    def row(
        self, values: Sequence[Any], row_idx: int, styles: Sequence[str | None] | None = None
    ) -> PreparedRow | None:
        """The prepared row at ``row_idx`` (1-based), or None when a value needs
        openpyxl (the caller appends that row the ordinary way). The row's XML is
        written as text and parsed once (one C call instead of three elements per
        cell built from Python). ``styles`` (from :meth:`style_of`) replaces the
        columns' styles for this row."""
        suffix = str(row_idx)
        parts = ["<row>"]
        add = parts.append
        columns = self.styles if styles is None else styles
        for letter, style, value in zip(self.letters, columns, values, strict=True):
            if value is None:
                continue
            ref = letter + suffix
            if isinstance(value, str):
                if _PLAIN.fullmatch(value) and len(value) <= _LONGEST:
                    # Most texts: nothing to escape, keep or leave to openpyxl.
                    add(f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>')
                    continue
                if value == "":  # an empty text cell, as openpyxl writes it
                    add(f'<c r="{ref}" t="inlineStr"/>')
                    continue
                if self.needs_care(value):
                    return None
                space = _PRESERVE if value != value.strip() else ""
                add(f'<c r="{ref}" t="inlineStr"><is><t{space}>{_escape(value)}</t></is></c>')
            elif isinstance(value, bool):
                styled = f' s="{style}"' if style is not None else ""
                add(f'<c r="{ref}"{styled} t="b"><v>{1 if value else 0}</v></c>')
            elif isinstance(value, (int, float)):
                if not math.isfinite(value):
                    return None
                styled = f' s="{style}"' if style is not None else ""
                add(f'<c r="{ref}"{styled} t="n"><v>{value:.16g}</v></c>')  # as openpyxl
            elif isinstance(value, (date, datetime)):
                if isinstance(value, datetime) and value.tzinfo is not None:
                    return None
                number = f"{to_excel(value, self.epoch):.16g}"
                add(f'<c r="{ref}" s="{style or self._dates()}" t="n"><v>{number}</v></c>')
            else:
                return None
        add("</row>")
        prepared = PreparedRow(values)
        prepared.element = fromstring("".join(parts))
        return prepared


_PRESERVE = ' xml:space="preserve"'
# A text written as it is: not empty, no formula-like start, no space at either end
# (kept with xml:space), nothing XML must escape or cannot hold. Anything else takes
# the careful path below (a needs_care text is never plain).
_PLAIN = re.compile(r"(?![=+\-@\s])[^&<>\x00-\x08\x0b-\x1f]+(?<!\s)")
_LONGEST = 32767  # Excel's longest text in a cell; longer texts go through openpyxl


def _escape(text: str) -> str:
    """Text as XML character data; a carriage return kept (a parser would make it a
    line feed)."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")
    return text
