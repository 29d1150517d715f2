"""Render computed tables into one Excel workbook with openpyxl's write-only mode.

Each table sheet prints exactly the texts of the table's JSON and HTML, one
sheet cell per printed cell (``52 (48–57)``, ``4 (f=3, m=1)``), under a header
whose group labels are merged over their columns, with the title above and the
footnotes below, so that the range pastes into a manuscript as it is. Beside it a
"values" sheet holds every statistic behind those cells as a number with its number
format, one line per row, column and statistic, for those who compute further.

Write-only keeps memory flat however long the participant listing is (the listing
is streamed from the database cursor straight into the sheet); its merged ranges are
collected on the sheet and written after the rows. Every string is written as text:
a value beginning with = + - @ tab or CR is stored with Excel's quote prefix, never
as a formula.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from copy import copy
from dataclasses import dataclass
from datetime import date, datetime
from itertools import zip_longest
from pathlib import Path
from typing import Any

from flask_babel import gettext
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import LineChart, Reference
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.cell_range import CellRange

from trialdm.core.errors import N_
from trialdm.summaries.engine import TableResult, listing_rows
from trialdm.summaries.listing_sheet import FastRows
from trialdm.summaries.sheets import SheetNames, cover_name, sheet_names
from trialdm.summaries.spec import BuildContext, ListingColumn, ListingSpec
from trialdm.summaries.specfiles.texts import localised_result, localised_rows, statistic_text

HOSTILE_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Characters XML 1.0 cannot hold (openpyxl refuses them); tab, LF and CR are fine.
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=13)
NOTE = Font(italic=True, size=9)
INDENT = Alignment(indent=1)
HEADER = Alignment(horizontal="center", vertical="center", wrap_text=True)
HEADER_LEFT = Alignment(horizontal="left", vertical="center")
PRINTED = Alignment(horizontal="center")
WRAP_TOP = Alignment(wrap_text=True, vertical="top")
MAX_WIDTH = 60
PROGRESS_EVERY = 50_000


@dataclass(frozen=True)
class Cover:
    trial: str
    scope: str
    read_at: datetime
    requested_by: str
    software: str
    filters: Sequence[tuple[str, str]]


def excel_safe(value: str) -> str:
    return _ILLEGAL.sub("", value)


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


def _styles_of(wb: Workbook) -> dict[tuple[Any, ...], tuple[Any, Any, Any]]:
    """A workbook's cell styles by (quote prefix, number format, font, alignment)."""
    styles = getattr(wb, "_trialdm_cell_styles", None)
    if styles is None:
        styles = {}
        wb._trialdm_cell_styles = styles  # type: ignore[attr-defined]
    return styles


def _width(text: Any) -> int:
    if text is None:
        return 0
    if isinstance(text, float):
        return len(f"{text:.2f}")
    if isinstance(text, (date, datetime)):
        return 18
    return max((len(part) for part in str(text).splitlines()), default=0)


def _set_widths(ws: WriteOnlyWorksheet, widths: Sequence[int]) -> None:
    for index, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(index)].width = min(max(width + 2, 6), MAX_WIDTH)


# ------------------------------------------------------------------ layout


@dataclass(frozen=True)
class HeaderCell:
    """One printed header cell at (row, col) of the header, spanning rows and columns."""

    row: int
    col: int
    text: str
    rowspan: int = 1
    colspan: int = 1


def header_grid(corner: str, columns: Sequence[tuple[str | None, str]]) -> list[HeaderCell]:
    """The header as a paper prints it: a group's label merged over its columns,
    the column labels under it; with groups, the corner and ungrouped columns
    span both rows. ``columns`` are (group, label) in print order."""
    if not any(group for group, _ in columns):
        return [HeaderCell(0, 0, corner)] + [
            HeaderCell(0, 1 + i, label) for i, (_, label) in enumerate(columns)
        ]
    cells = [HeaderCell(0, 0, corner, rowspan=2)]
    index = 0
    while index < len(columns):
        group, label = columns[index]
        if not group:
            cells.append(HeaderCell(0, 1 + index, label, rowspan=2))
            index += 1
            continue
        end = index
        while end < len(columns) and columns[end][0] == group:
            end += 1
        cells.append(HeaderCell(0, 1 + index, group, colspan=end - index))
        cells += [HeaderCell(1, 1 + i, columns[i][1]) for i in range(index, end)]
        index = end
    return cells


class Sheet:
    """A write-only sheet that counts its rows, so that ranges can be merged
    (openpyxl writes a write-only sheet's merged ranges after its rows)."""

    def __init__(self, ws: WriteOnlyWorksheet) -> None:
        self.ws = ws
        self.rows = 0

    def append(self, cells: list) -> None:
        self.ws.append(cells)
        self.rows += 1

    def merge(self, first_row: int, first_col: int, rows: int, cols: int) -> None:
        if rows > 1 or cols > 1:
            self.ws.merged_cells.add(
                CellRange(
                    min_row=first_row,
                    min_col=first_col,
                    max_row=first_row + rows - 1,
                    max_col=first_col + cols - 1,
                )
            )


def _columns(result: TableResult) -> list[tuple[str | None, str]]:
    return [(c.parent, c.label) for c in result.columns]


def _table_widths(result: TableResult) -> list[int]:
    widths = [max([_width(result.corner)] + [_width(r.label) + 1 for r in result.rows])]
    for index, column in enumerate(result.columns):
        texts = [row.cells[index].text for row in result.rows if index < len(row.cells)]
        widths.append(max([min(_width(column.label), 30)] + [_width(t) for t in texts]))
    return widths


def _write_printed_table(sheet: Sheet, result: TableResult) -> None:
    """Header (merged as printed), one cell per printed cell, then the footnotes:
    the JSON's texts exactly, so that the range pastes into a manuscript."""
    ws = sheet.ws
    grid = header_grid(result.corner, _columns(result))
    height = max(h.row for h in grid) + 1
    first = sheet.rows + 1
    width = 1 + len(result.columns)
    lines: list[list[Any]] = [[None] * width for _ in range(height)]
    for h in grid:
        align = HEADER_LEFT if h.col == 0 else HEADER
        lines[h.row][h.col] = cell(ws, h.text or None, font=BOLD, alignment=align)
    for line in lines:
        sheet.append(line)
    for h in grid:
        sheet.merge(first + h.row, 1 + h.col, h.rowspan, h.colspan)
    for row in result.rows:
        font = BOLD if row.kind == "heading" else None
        align = INDENT if row.kind in ("category", "missing") else None
        line: list[Any] = [cell(ws, row.label, font=font, alignment=align)]
        line += [cell(ws, c.text or None, alignment=PRINTED) for c in row.cells]
        sheet.append(line)
    # Manuscript footnotes, then the method notes apart from them.
    for block in (result.footnotes, result.notes):
        if block:
            sheet.append([])
        for note in block:
            sheet.append([cell(ws, note, font=NOTE)])


def _header_rows(result: TableResult) -> int:
    return 2 if any(c.parent for c in result.columns) else 1


# ------------------------------------------------------------------ sheets


def write_cover(
    wb: Workbook, cover: Cover, results: Sequence[TableResult], names: Sequence[SheetNames]
) -> None:
    ws = wb.create_sheet(cover_name())
    _set_widths(ws, [24, 80, 32])
    ws.append([cell(ws, gettext("%(trial)s: summary tables", trial=cover.trial), font=TITLE)])
    ws.append([])
    lines: list[tuple[str, Any, str | None]] = [
        (gettext("Trial"), cover.trial, None),
        (gettext("Scope"), cover.scope, None),
        (gettext("Data read at (UTC)"), cover.read_at, "yyyy-mm-dd hh:mm:ss"),
        (gettext("Requested by"), cover.requested_by, None),
        (gettext("Software"), cover.software, None),
    ]
    lines += [(gettext(name), value, None) for name, value in cover.filters]
    for label, value, number_format in lines:
        ws.append([cell(ws, label, font=BOLD), cell(ws, value, number_format)])
    ws.append([])
    ws.append([cell(ws, gettext(h), font=BOLD) for h in (N_("Sheet"), N_("Table"), N_("Numbers"))])
    for result, name in zip(results, names, strict=True):
        ws.append([cell(ws, name.table), cell(ws, result.title), cell(ws, name.numbers)])


def write_table(wb: Workbook, result: TableResult, names: SheetNames) -> None:
    ws = wb.create_sheet(names.table)
    sheet = Sheet(ws)
    _set_widths(ws, _table_widths(result))
    ws.freeze_panes = f"B{2 + _header_rows(result) + 1}"
    sheet.append([cell(ws, result.title, font=TITLE)])
    sheet.append([])
    _write_printed_table(sheet, result)
    if result.chart is not None and result.chart.categories:
        _write_chart(ws, result, sheet.rows)
    write_numbers(wb, result, names.numbers)


def _write_chart(ws: WriteOnlyWorksheet, result: TableResult, rows_written: int) -> None:
    chart_data = result.chart
    assert chart_data is not None
    ws.append([])
    ws.append([cell(ws, chart_data.title, font=BOLD)])
    header_row = rows_written + 3
    sites = list(chart_data.series)
    ws.append([cell(ws, gettext("Month"), font=BOLD)] + [cell(ws, s, font=BOLD) for s in sites])
    for index, month in enumerate(chart_data.categories):
        ws.append(
            [cell(ws, month, "mmm yyyy")]
            + [cell(ws, chart_data.series[s][index], "0") for s in sites]
        )
    last = header_row + len(chart_data.categories)
    chart = LineChart()
    chart.title = chart_data.title
    chart.y_axis.title = chart_data.y_title
    chart.x_axis.title = gettext("Month")
    chart.x_axis.number_format = "mmm yyyy"
    chart.height, chart.width = 9, 18
    data = Reference(ws, min_col=2, max_col=1 + len(sites), min_row=header_row, max_row=last)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=header_row + 1, max_row=last))
    ws.add_chart(chart, f"{get_column_letter(len(sites) + 3)}{header_row}")


def write_listing(
    wb: Workbook,
    result: TableResult,
    ctx: BuildContext,
    names: SheetNames,
    progress: Callable[[int], None] | None = None,
    kept: list[list[Any]] | None = None,
) -> None:
    """The listing streamed from the cursor, then its summary as printed. Its first
    ``json_limit`` rows as the listing gives them (before the value labels are
    translated) are copied into ``kept``, for the job's JSON: the listing is read
    once per build."""
    listing: ListingSpec = result.listing  # type: ignore[assignment]
    ws = wb.create_sheet(names.table)
    sheet = Sheet(ws)
    listing_widths = [c.width or len(c.label) for c in listing.columns]
    summary_widths = _table_widths(result)
    widths = [max(a, b) for a, b in zip_longest(listing_widths, summary_widths, fillvalue=0)]
    _set_widths(ws, widths)
    ws.freeze_panes = "B4"
    sheet.append([cell(ws, result.title, font=TITLE)])
    sheet.append([])
    sheet.append([cell(ws, c.label, font=BOLD) for c in listing.columns])
    writers = [_listing_writer(ws, column) for column in listing.columns]
    fast = FastRows(ws, [_number_format(column) for column in listing.columns], _needs_care)
    streamed = listing_rows(listing, ctx)
    if kept is not None:
        streamed = _keeping(streamed, kept, listing.json_limit)
    rows = localised_rows(listing.columns, streamed)
    for count, row in enumerate(rows, start=1):
        prepared = fast.row(row, sheet.rows + 1)
        if prepared is None:  # a value openpyxl must write (e.g. a formula-like text)
            sheet.append([write(value) for write, value in zip(writers, row, strict=True)])
        else:
            sheet.append(prepared)
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(count)
    sheet.append([])
    sheet.append([cell(ws, gettext("Summary"), font=TITLE)])
    _write_printed_table(sheet, result)
    write_numbers(wb, result, names.numbers)


def _keeping(rows: Iterator[list[Any]], kept: list[list[Any]], limit: int) -> Iterator[list[Any]]:
    for row in rows:
        if len(kept) < limit:
            kept.append(list(row))  # a copy: localised_rows changes the row in place
        yield row


# ------------------------------------------------------------------ numbers


NUMBERS_HEADER = (
    N_("Characteristic"),
    N_("Line"),
    N_("Column group"),
    N_("Column"),
    N_("Statistic"),
    N_("Value"),
)


def numbers_lines(result: TableResult) -> Iterator[tuple[str, str, str, str, str, Any, str]]:
    """Every value behind the printed cells: (characteristic, line, column group,
    column, statistic, value, number format); a hidden value is its mark."""
    heading = ""
    for row in result.rows:
        if row.kind in ("heading", "stat"):
            heading = row.label
        if row.kind == "heading":
            continue
        characteristic, line = (heading, row.label) if row.kind != "stat" else (row.label, "")
        for column, c in zip(result.columns, row.cells, strict=True):
            names = list(c.names) + [f"value {i + 1}" for i in range(len(c.names), len(c.values))]
            formats = list(c.formats) + ["General"] * (len(c.values) - len(c.formats))
            for name, value, number_format in zip(names, c.values, formats, strict=False):
                if value is None:
                    continue
                yield (
                    characteristic,
                    line,
                    column.parent or "",
                    column.label,
                    name,
                    value,
                    number_format,
                )


def write_numbers(wb: Workbook, result: TableResult, title: str) -> None:
    ws = wb.create_sheet(title)
    widths = [len(h) for h in NUMBERS_HEADER]
    widths[0] = max([widths[0]] + [_width(r.label) for r in result.rows])
    widths[2] = max([widths[2]] + [_width(c.parent) for c in result.columns])
    widths[3] = max([widths[3]] + [_width(c.label) for c in result.columns])
    widths[1], widths[4], widths[5] = 30, 12, 14
    _set_widths(ws, widths)
    ws.freeze_panes = "A4"
    title = gettext("%(table)s: the numbers of each cell", table=result.title)
    ws.append([cell(ws, title, font=TITLE)])
    ws.append([])
    ws.append([cell(ws, gettext(h), font=BOLD) for h in NUMBERS_HEADER])
    # Thousands of lines for a table with many sites: written as prepared XML
    # (:class:`FastRows`, one style per number format); a line with a value that
    # needs openpyxl (a formula-like text, a date) goes through it as before.
    fast = FastRows(ws, [None] * len(NUMBERS_HEADER), _needs_care)
    row_styles: dict[str, list[str | None]] = {}
    styles: dict[str, Any] = {}

    def text(value: str) -> Any:
        if value.startswith(HOSTILE_PREFIXES) or _ILLEGAL.search(value):
            return cell(ws, value)
        return value or None

    def number(value: Any, number_format: str) -> Any:
        if isinstance(value, str):
            return text(value)
        if isinstance(value, datetime):
            return cell(ws, value, number_format)
        if number_format not in styles:
            styles[number_format] = cell(ws, value, number_format)._style
        c = WriteOnlyCell(ws, value=value)
        c._style = copy(styles[number_format])
        return c

    plain: list[str | None] = [None] * len(NUMBERS_HEADER)
    row = 3
    for *labels, statistic, value, number_format in numbers_lines(result):
        labels.append(statistic_text(statistic))
        row += 1
        prepared = None
        kind = type(value)
        if kind is str:
            line = [label or None for label in labels] + [value or None]
            prepared = fast.row(line, row, plain)
        elif kind is int or kind is float:
            if number_format not in row_styles:
                row_styles[number_format] = [*plain[:-1], fast.style_of(number_format)]
            line = [label or None for label in labels] + [value]
            prepared = fast.row(line, row, row_styles[number_format])
        if prepared is None:
            ws.append([text(label) for label in labels] + [number(value, number_format)])
        else:
            ws.append(prepared)


def _number_format(column: ListingColumn) -> str | None:
    if column.kind == "number" and column.decimals is None:
        return "General"  # as recorded
    if column.kind == "number":
        return "0" if column.decimals == 0 else "0." + "0" * column.decimals
    if column.kind == "date":
        return "yyyy-mm-dd"
    return None


def _needs_care(value: str) -> bool:
    """A text the fast listing rows leave to :func:`cell` (and openpyxl)."""
    return value.startswith(HOSTILE_PREFIXES) or bool(_ILLEGAL.search(value)) or len(value) > 32767


def _listing_writer(ws: WriteOnlyWorksheet, column: ListingColumn) -> Callable[[Any], Any]:
    """Per-column cell maker for listing rows :class:`FastRows` leaves to openpyxl.
    Plain strings and None go to openpyxl as raw values (its cheapest path); numbers
    and dates get a cell carrying a prepared style; risky strings go through
    :func:`cell`."""
    number_format = _number_format(column)
    style = None
    if number_format:
        template = WriteOnlyCell(ws, value=0)
        template.number_format = number_format
        style = template._style

    def write(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            if value.startswith(HOSTILE_PREFIXES) or _ILLEGAL.search(value):
                return cell(ws, value)
            return value
        if style is not None:
            c = WriteOnlyCell(ws, value=value)
            c._style = copy(style)
            return c
        return value

    return write


def render_workbook(
    path: Path,
    cover: Cover,
    results: Sequence[TableResult],
    ctx: BuildContext,
    progress: Callable[[str], None] | None = None,
    listings: dict[str, list[list[Any]]] | None = None,
) -> Path:
    """Write the workbook to a temporary file beside ``path`` and rename it into
    place, so a rebuild replaces the file whole and a crash leaves no half file.
    With ``listings``, each listing's first rows go there under its table's name
    (see :func:`write_listing`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook(write_only=True)
    names = sheet_names([result.name for result in results])
    # The specs' texts in the build's language (job_language); data stays as it is.
    results = [localised_result(result) for result in results]
    write_cover(wb, cover, results, names)
    for result, name in zip(results, names, strict=True):
        if progress is not None:
            progress(f"Writing {result.name}")
        if result.listing is not None:
            kept = None if listings is None else listings.setdefault(result.name, [])
            # No progress commits while the listing's cursor is open.
            write_listing(wb, result, ctx, name, kept=kept)
        else:
            write_table(wb, result, name)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        wb.save(temporary)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
    return path
