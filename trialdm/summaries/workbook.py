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
from collections.abc import Callable, Iterator, Sequence
from copy import copy
from dataclasses import dataclass
from datetime import datetime
from itertools import zip_longest
from pathlib import Path
from typing import Any

from flask_babel import gettext
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import LineChart, Reference
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.cell_range import CellRange

from trialdm.core.errors import N_
from trialdm.summaries.cells import (
    BOLD,
    HEADER,
    HEADER_LEFT,
    INDENT,
    NOTE,
    PRINTED,
    TITLE,
    TextCell,
    cell,
    needs_care,
    needs_quoting,
    set_widths,
    text_row,
    text_width,
)
from trialdm.summaries.engine import TableResult, listing_rows
from trialdm.summaries.listing_sheet import FastRows, sheets_in_a_folder
from trialdm.summaries.sheets import SheetNames, cover_name, sheet_names
from trialdm.summaries.spec import BuildContext, ListingColumn, ListingSpec
from trialdm.summaries.specfiles.texts import localised_result, localised_rows
from trialdm.summaries.values_sheet import write_numbers

PROGRESS_EVERY = 50_000


@dataclass(frozen=True)
class Cover:
    trial: str
    scope: str
    read_at: datetime
    requested_by: str
    software: str
    filters: Sequence[tuple[str, str]]


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
    widths = [max([text_width(result.corner)] + [text_width(r.label) + 1 for r in result.rows])]
    for index, column in enumerate(result.columns):
        texts = [row.cells[index].text for row in result.rows if index < len(row.cells)]
        widths.append(max([min(text_width(column.label), 30)] + [text_width(t) for t in texts]))
    return widths


def _append_texts(sheet: Sheet, fast: FastRows, line: Sequence[TextCell | None]) -> None:
    sheet.append(text_row(sheet.ws, fast, sheet.rows + 1, line))


def _write_printed_table(sheet: Sheet, result: TableResult, fast: FastRows) -> None:
    """Header (merged as printed), one cell per printed cell, then the footnotes:
    the JSON's texts exactly, so that the range pastes into a manuscript."""
    grid = header_grid(result.corner, _columns(result))
    height = max(h.row for h in grid) + 1
    first = sheet.rows + 1
    width = 1 + len(result.columns)
    lines: list[list[TextCell | None]] = [[None] * width for _ in range(height)]
    for h in grid:
        align = HEADER_LEFT if h.col == 0 else HEADER
        lines[h.row][h.col] = (h.text or None, BOLD, align)
    for line in lines:
        _append_texts(sheet, fast, line)
    for h in grid:
        sheet.merge(first + h.row, 1 + h.col, h.rowspan, h.colspan)
    for row in result.rows:
        font = BOLD if row.kind == "heading" else None
        align = INDENT if row.kind in ("category", "missing") else None
        texts: list[TextCell | None] = [(row.label, font, align)]
        texts += [(c.text or None, None, PRINTED) for c in row.cells]
        _append_texts(sheet, fast, texts)
    # Manuscript footnotes, then the method notes apart from them.
    for block in (result.footnotes, result.notes):
        if block:
            sheet.append([])
        for note in block:
            _append_texts(sheet, fast, [(note, NOTE, None)])


def _header_rows(result: TableResult) -> int:
    return 2 if any(c.parent for c in result.columns) else 1


# ------------------------------------------------------------------ sheets


def write_cover(
    wb: Workbook, cover: Cover, results: Sequence[TableResult], names: Sequence[SheetNames]
) -> None:
    ws = wb.create_sheet(cover_name())
    set_widths(ws, [24, 80, 32])
    sheet = Sheet(ws)
    fast = FastRows(ws, [], needs_care)
    title = gettext("%(trial)s: summary tables", trial=cover.trial)
    _append_texts(sheet, fast, [(title, TITLE, None)])
    sheet.append([])
    lines: list[tuple[str, Any, str | None]] = [
        (gettext("Trial"), cover.trial, None),
        (gettext("Scope"), cover.scope, None),
        (gettext("Data read at (UTC)"), cover.read_at, "yyyy-mm-dd hh:mm:ss"),
        (gettext("Requested by"), cover.requested_by, None),
        (gettext("Software"), cover.software, None),
    ]
    lines += [(gettext(name), value, None) for name, value in cover.filters]
    for label, value, number_format in lines:
        if isinstance(value, str):
            _append_texts(sheet, fast, [(label, BOLD, None), (value, None, None)])
        else:  # the time the data were read, with its format
            sheet.append([cell(ws, label, font=BOLD), cell(ws, value, number_format)])
    sheet.append([])
    headers = (N_("Sheet"), N_("Table"), N_("Numbers"))
    _append_texts(sheet, fast, [(gettext(h), BOLD, None) for h in headers])
    for result, name in zip(results, names, strict=True):
        texts = (name.table, result.title, name.numbers)
        _append_texts(sheet, fast, [(text, None, None) for text in texts])


def write_table(wb: Workbook, result: TableResult, names: SheetNames) -> None:
    ws = wb.create_sheet(names.table)
    sheet = Sheet(ws)
    set_widths(ws, _table_widths(result))
    ws.freeze_panes = f"B{2 + _header_rows(result) + 1}"
    fast = FastRows(ws, [], needs_care)
    _append_texts(sheet, fast, [(result.title, TITLE, None)])
    sheet.append([])
    _write_printed_table(sheet, result, fast)
    if result.chart is not None and result.chart.categories:
        _write_chart(sheet, fast, result)
    write_numbers(wb, result, names.numbers)


def _write_chart(sheet: Sheet, fast: FastRows, result: TableResult) -> None:
    chart_data = result.chart
    assert chart_data is not None
    ws = sheet.ws
    sheet.append([])
    _append_texts(sheet, fast, [(chart_data.title, BOLD, None)])
    header_row = sheet.rows + 1
    sites = list(chart_data.series)
    _append_texts(sheet, fast, [(t, BOLD, None) for t in [gettext("Month"), *sites]])
    styles: list[str | None] = []
    for index, month in enumerate(chart_data.categories):
        values = [month, *[chart_data.series[s][index] for s in sites]]
        if not styles:
            # The styles of the first month's cells, registered as openpyxl registers
            # them (a date cell registers the date format before its own).
            month_style, count_style = (
                str(c.style_id) if c.has_style else None
                for c in (cell(ws, month, "mmm yyyy"), cell(ws, 0, "0"))
            )
            styles = [month_style, *[count_style] * len(sites)]
        prepared = fast.row(values, sheet.rows + 1, styles)
        if prepared is None:
            prepared = [cell(ws, month, "mmm yyyy")]
            prepared += [cell(ws, value, "0") for value in values[1:]]
        sheet.append(prepared)
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
    set_widths(ws, widths)
    ws.freeze_panes = "B4"
    fast = FastRows(ws, [_number_format(column) for column in listing.columns], needs_care)
    sheet.append([cell(ws, result.title, font=TITLE)])
    sheet.append([])
    sheet.append([cell(ws, c.label, font=BOLD) for c in listing.columns])
    writers = [_listing_writer(ws, column) for column in listing.columns]
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
    _write_printed_table(sheet, result, fast)
    write_numbers(wb, result, names.numbers)


def _keeping(rows: Iterator[list[Any]], kept: list[list[Any]], limit: int) -> Iterator[list[Any]]:
    for row in rows:
        if len(kept) < limit:
            kept.append(list(row))  # a copy: localised_rows changes the row in place
        yield row


# ------------------------------------------------------------------ listing cells


def _number_format(column: ListingColumn) -> str | None:
    if column.kind == "number" and column.decimals is None:
        return "General"  # as recorded
    if column.kind == "number":
        return "0" if column.decimals == 0 else "0." + "0" * column.decimals
    if column.kind == "date":
        return "yyyy-mm-dd"
    return None


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
            if needs_quoting(value):
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
    with sheets_in_a_folder(wb):
        _write_sheets(wb, cover, results, ctx, progress, listings)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            wb.save(temporary)
            os.replace(temporary, path)
        finally:
            if temporary.exists():
                temporary.unlink()
    return path


def _write_sheets(
    wb: Workbook,
    cover: Cover,
    results: Sequence[TableResult],
    ctx: BuildContext,
    progress: Callable[[str], None] | None,
    listings: dict[str, list[list[Any]]] | None,
) -> None:
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
