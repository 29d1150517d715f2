"""Rows of the summary workbook's sheets written straight as sheet XML.

A listing is one line per person, and openpyxl's write-only sheet spends most of a
large build on it: per cell it makes a cell object, binds and checks its value,
and opens three XML elements through context managers. Here a row of plain values
(the listing's, a values sheet's line, a printed table's texts with their styles) is
written as XML text (inline strings, numbers and dates with a prepared style)
straight into the sheet's file, between the rows openpyxl writes there, so the file
is byte for byte what openpyxl would write for those values; a row with a value
that needs openpyxl (a formula-like text, a time zone) still goes through it.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet._writer import ALL_TEMP_FILES, WorksheetWriter
from openpyxl.xml.constants import SHEET_MAIN_NS
from openpyxl.xml.functions import xmlfile


class PreparedRow(tuple):
    """A row already written as its cells' XML (a tuple, as the sheet accepts; its
    one item is the XML of the cells)."""


class _FileWriter(WorksheetWriter):
    """openpyxl's sheet writer, its XML written through a file object of its own, so
    that prepared rows can be written to that file between lxml's writes."""

    file: Any
    xml: Any = None  # lxml's incremental writer of the file, once opened

    def get_stream(self) -> Any:  # openpyxl's, with the file opened here
        with (
            open(self.out, "wb") as self.file,
            xmlfile(self.file) as xf,
            xf.element("worksheet", xmlns=SHEET_MAIN_NS),
        ):
            self.xml = xf
            try:
                while True:
                    el = yield
                    if el is True:
                        yield xf
                    elif el is None:
                        continue
                    else:
                        xf.write(el)
            except GeneratorExit:
                pass


@contextmanager
def sheets_in_a_folder(wb: Workbook) -> Iterator[None]:
    """The sheets of ``wb`` that :class:`FastRows` writes go to files in a folder of
    their own, removed at the end (openpyxl removes each file once it is zipped).
    openpyxl makes each sheet's file a named temporary file in the system's
    temporary folder: creating a file there took about 0.25 ms here (a folder
    that many processes write to), in a new folder about 0.07 ms."""
    folder = tempfile.mkdtemp(prefix="trialdm-sheets-")
    wb._trialdm_sheet_folder = folder  # type: ignore[attr-defined]
    try:
        yield
    finally:
        del wb._trialdm_sheet_folder  # type: ignore[attr-defined]
        shutil.rmtree(folder, ignore_errors=True)


def _sheet_file(ws: WriteOnlyWorksheet) -> str | None:
    """The file of a sheet in its workbook's folder (:func:`sheets_in_a_folder`),
    registered as openpyxl registers its temporary files (it removes them from its
    list when it has zipped them); None without a folder (openpyxl makes one)."""
    folder = getattr(ws.parent, "_trialdm_sheet_folder", None)
    if folder is None:
        return None
    path = os.path.join(folder, f"{id(ws)}.xml")  # the folder is this workbook's own
    ALL_TEMP_FILES.append(path)
    return path


class FastRows:
    """Prepares rows of plain values (str, int, float, date, None) for a write-only
    sheet as XML; for a row with a string that needs care (a formula-like or illegal
    character) it gives None, and the caller appends that row through openpyxl. Made
    before the sheet's first row."""

    def __init__(
        self,
        ws: WriteOnlyWorksheet,
        number_formats: Sequence[str | None],
        needs_care: Callable[[str], bool],
    ) -> None:
        self.ws = ws
        self.needs_care = needs_care
        self.letters = [get_column_letter(i) for i in range(1, len(number_formats) + 1)]
        self.formats = number_formats
        # The columns' styles, registered with the first row written (as openpyxl
        # registers a style with the first cell it writes in it).
        self.styles: list[str | None] | None = None
        self._date_style: str | None = None  # registered with the first date written
        # The XML after the reference of a plain text's cell, by text: labels, codes
        # and statistics' names repeat from row to row.
        self._known: dict[str, str] = {}
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
        """Take over the sheet's ``append``: a prepared row is kept as its XML text
        and the texts are written to the file together, before the next row openpyxl
        writes, every ``_BATCH`` rows and when the sheet closes; other rows go
        through openpyxl with this sheet's own row count (openpyxl's counts only the
        rows it sees). Called before the sheet's first row (its writer is made
        here)."""
        ws = self.ws
        if ws._writer is not None:
            raise RuntimeError("FastRows must be made before the sheet's first row")
        writer = ws._writer = _FileWriter(ws, _sheet_file(ws))
        writer.write_top()
        to_row, write_row = ws._values_to_row, writer.write_row
        openpyxl_append, openpyxl_close = ws.append, ws.close
        pending: list[str] = []
        count = 0

        def flush() -> None:
            if pending:
                writer.xml.flush()  # lxml's buffered output first, then these rows
                # ASCII with character references, as lxml writes this file
                text = "".join(pending)
                writer.file.write(text.encode("ascii", "xmlcharrefreplace"))
                pending.clear()

        def append(row: Any) -> None:
            nonlocal count
            count += 1
            if type(row) is PreparedRow:
                if ws._rows is None:  # openpyxl opens the sheet's data with its first row
                    ws._rows = ws._write_rows()
                    next(ws._rows)
                pending.append(f'<row r="{count}">{row[0]}</row>')
                if len(pending) >= _BATCH:
                    flush()
            else:
                openpyxl_append(row)

        def values_to_row(values: Any, row_idx: int) -> Any:
            return to_row(values, count)

        def write(xf: Any, row: Any, row_idx: int) -> None:
            flush()
            write_row(xf, row, count)

        def close() -> None:
            flush()
            openpyxl_close()

        ws.append = append  # type: ignore[method-assign]
        ws.close = close  # type: ignore[method-assign]
        ws._values_to_row = values_to_row  # type: ignore[method-assign]
        writer.write_row = write  # type: ignore[method-assign]

    def row(
        self, values: Sequence[Any], row_idx: int, styles: Sequence[str | None] | None = None
    ) -> PreparedRow | None:
        """The prepared row at ``row_idx`` (1-based), or None when a value needs
        openpyxl (the caller appends that row the ordinary way). The row's XML is
        written as text, as lxml would serialise it (three elements per cell are
        neither built from Python nor parsed). ``styles`` (from :meth:`style_of`) replaces the
        columns' styles for this row."""
        suffix = str(row_idx)
        parts: list[str] = []
        add = parts.append
        columns = self.styles if styles is None else styles
        if columns is None:
            columns = self.styles = [self._style_id(f) if f else None for f in self.formats]
        known = self._known
        letters = self.letters if len(self.letters) == len(values) else _letters(len(values))
        for letter, style, value in zip(letters, columns, values, strict=True):
            if value is None:
                continue
            kind = type(value)
            # The most frequent values first: a plain text, an int, a finite float.
            if kind is str:
                tail = known.get(value)
                if tail is None and _plain(value) and len(value) <= _LONGEST:
                    tail = f' t="inlineStr"><is><t>{value}</t></is></c>'
                    if len(known) < _KNOWN:
                        known[value] = tail
                if tail is not None:
                    add(f'<c r="{letter}{suffix}"{tail}')
                    continue
            if kind is int or (kind is float and math.isfinite(value)):
                styled = "" if style is None else f' s="{style}"'
                add(f'<c r="{letter}{suffix}"{styled} t="n"><v>{value:.16g}</v></c>')  # as openpyxl
                continue
            ref = letter + suffix
            if isinstance(value, str):
                if value == "":  # an empty text cell, as openpyxl writes it
                    add(f'<c r="{ref}" t="inlineStr"></c>')
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
        return PreparedRow(("".join(parts),))

    def texts(
        self, values: Sequence[str | None], row_idx: int, styles: Sequence[str | None]
    ) -> PreparedRow | None:
        """A row of texts, each cell with its own style id (None: the default style),
        as :func:`~trialdm.summaries.cells.cell` makes them and openpyxl writes them:
        an empty cell is written when it has a style. None when a text needs openpyxl."""
        suffix = str(row_idx)
        parts: list[str] = []
        add = parts.append
        for index, (style, value) in enumerate(zip(styles, values, strict=True)):
            styled = "" if style is None else f' s="{style}"'
            if value is None:
                if style is not None:
                    add(f'<c r="{get_column_letter(index + 1)}{suffix}"{styled} t="n"></c>')
                continue
            ref = get_column_letter(index + 1) + suffix
            if _plain(value) and len(value) <= _LONGEST:
                add(f'<c r="{ref}"{styled} t="inlineStr"><is><t>{value}</t></is></c>')
            elif value == "":
                add(f'<c r="{ref}"{styled} t="inlineStr"></c>')
            elif self.needs_care(value):
                return None
            else:
                space = _PRESERVE if value != value.strip() else ""
                text = _escape(value)
                add(f'<c r="{ref}"{styled} t="inlineStr"><is><t{space}>{text}</t></is></c>')
        return PreparedRow(("".join(parts),))


@lru_cache(maxsize=64)
def _letters(count: int) -> tuple[str, ...]:
    """The column letters of a row of ``count`` cells."""
    return tuple(get_column_letter(i) for i in range(1, count + 1))


_PRESERVE = ' xml:space="preserve"'
# A text written as it is: not empty, no formula-like start, no space at either end
# (kept with xml:space), nothing XML must escape or cannot hold. Anything else takes
# the careful path below (a needs_care text is never plain).
_PLAIN = re.compile(r"(?![=+\-@\s])[^&<>\x00-\x08\x0b-\x1f]+(?<!\s)")
_plain = _PLAIN.fullmatch
_BATCH = 100  # prepared rows written to the file together
_KNOWN = 2_000  # texts kept per sheet (a listing's study IDs all differ)
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
