"""Render computed tables into one Excel workbook with openpyxl's write-only mode.

Write-only keeps memory flat however long the participant listing is (the
listing is streamed from the database cursor straight into the sheet). Every
string is written as text: a value beginning with = + - @ tab or CR is stored as
a string with Excel's quote prefix, never as a formula.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from copy import copy
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import LineChart, Reference
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from trialdm.summaries.engine import TableResult, listing_rows
from trialdm.summaries.spec import BuildContext, ListingColumn, ListingSpec

HOSTILE_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Characters XML 1.0 cannot hold (openpyxl refuses them); tab, LF and CR are fine.
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=13)
NOTE = Font(italic=True, size=9)
INDENT = Alignment(indent=1)
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
    if isinstance(value, str):
        c.data_type = "s"
        if value.startswith(HOSTILE_PREFIXES):
            c.quotePrefix = True
    elif number_format and value is not None:
        c.number_format = number_format
    if font is not None:
        c.font = font
    if alignment is not None:
        c.alignment = alignment
    return c


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


def _group_width(result: TableResult) -> int:
    return max((len(c.values) for r in result.rows for c in r.cells), default=1) or 1


def _table_widths(result: TableResult, span: int) -> list[int]:
    widths = [max([_width(result.corner)] + [_width(r.label) + 1 for r in result.rows])]
    for index, column in enumerate(result.columns):
        subs = [0] * span
        for row in result.rows:
            for j, value in enumerate(row.cells[index].values):
                subs[j] = max(subs[j], _width(value))
        subs[0] = max(subs[0], min(_width(column.label), 30))
        widths.extend(subs)
    return widths


def _table_rows(ws: WriteOnlyWorksheet, result: TableResult, span: int) -> Iterable[list]:
    """Header rows, data rows and footnotes of an aggregate table."""
    if any(c.parent for c in result.columns):
        parents: list[Any] = [cell(ws, None)]
        previous = None
        for column in result.columns:
            shown = column.parent if column.parent != previous else None
            previous = column.parent
            parents.append(cell(ws, shown, font=BOLD))
            parents.extend(cell(ws, None) for _ in range(span - 1))
        yield parents
    header: list[Any] = [cell(ws, result.corner, font=BOLD)]
    for column in result.columns:
        header.append(cell(ws, column.label, font=BOLD))
        header.extend(cell(ws, None) for _ in range(span - 1))
    yield header
    for row in result.rows:
        font = BOLD if row.kind == "heading" else None
        align = INDENT if row.kind in ("category", "missing") else None
        line: list[Any] = [cell(ws, row.label, font=font, alignment=align)]
        for c in row.cells:
            values = list(c.values) + [None] * (span - len(c.values))
            formats = list(c.formats) + [None] * (span - len(c.formats))
            line.extend(cell(ws, v, f) for v, f in zip(values, formats, strict=True))
        yield line


def _header_rows(result: TableResult) -> int:
    return 2 if any(c.parent for c in result.columns) else 1


def _footnotes(ws: WriteOnlyWorksheet, notes: Sequence[str]) -> Iterable[list]:
    if notes:
        yield []
        for note in notes:
            yield [cell(ws, note, font=NOTE)]


# ------------------------------------------------------------------ sheets


def write_cover(wb: Workbook, cover: Cover, results: Sequence[TableResult]) -> None:
    ws = wb.create_sheet("Cover")
    _set_widths(ws, [24, 80])
    ws.append([cell(ws, f"{cover.trial}: summary tables", font=TITLE)])
    ws.append([])
    lines: list[tuple[str, Any, str | None]] = [
        ("Trial", cover.trial, None),
        ("Scope", cover.scope, None),
        ("Data read at (UTC)", cover.read_at, "yyyy-mm-dd hh:mm:ss"),
        ("Requested by", cover.requested_by, None),
        ("Software", cover.software, None),
    ]
    lines += [(name, value, None) for name, value in cover.filters]
    for label, value, number_format in lines:
        ws.append([cell(ws, label, font=BOLD), cell(ws, value, number_format)])
    ws.append([])
    ws.append([cell(ws, "Sheet", font=BOLD), cell(ws, "Table", font=BOLD)])
    for result in results:
        ws.append([cell(ws, result.name), cell(ws, result.title)])


def write_table(wb: Workbook, result: TableResult) -> None:
    ws = wb.create_sheet(result.name[:31])
    span = _group_width(result)
    _set_widths(ws, _table_widths(result, span))
    ws.freeze_panes = f"B{2 + _header_rows(result) + 1}"
    ws.append([cell(ws, result.title, font=TITLE)])
    ws.append([])
    rows_written = 2
    for line in _table_rows(ws, result, span):
        ws.append(line)
        rows_written += 1
    for line in _footnotes(ws, [*result.footnotes, *result.notes]):
        ws.append(line)
        rows_written += 1
    if result.chart is not None and result.chart.categories:
        _write_chart(ws, result, rows_written)


def _write_chart(ws: WriteOnlyWorksheet, result: TableResult, rows_written: int) -> None:
    chart_data = result.chart
    assert chart_data is not None
    ws.append([])
    ws.append([cell(ws, chart_data.title, font=BOLD)])
    header_row = rows_written + 3
    sites = list(chart_data.series)
    ws.append([cell(ws, "Month", font=BOLD)] + [cell(ws, s, font=BOLD) for s in sites])
    for index, month in enumerate(chart_data.categories):
        ws.append(
            [cell(ws, month, "mmm yyyy")]
            + [cell(ws, chart_data.series[s][index], "0") for s in sites]
        )
    last = header_row + len(chart_data.categories)
    chart = LineChart()
    chart.title = chart_data.title
    chart.y_axis.title = chart_data.y_title
    chart.x_axis.title = "Month"
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
    progress: Callable[[int], None] | None = None,
) -> None:
    """The listing streamed from the cursor, then its summary rows."""
    listing: ListingSpec = result.listing  # type: ignore[assignment]
    ws = wb.create_sheet(result.name[:31])
    span = _group_width(result)
    summary_widths = _table_widths(result, span)
    from itertools import zip_longest

    listing_widths = [c.width or len(c.label) for c in listing.columns]
    widths = [max(a, b) for a, b in zip_longest(listing_widths, summary_widths, fillvalue=0)]
    _set_widths(ws, widths)
    ws.freeze_panes = "B4"
    ws.append([cell(ws, result.title, font=TITLE)])
    ws.append([])
    ws.append([cell(ws, c.label, font=BOLD) for c in listing.columns])
    writers = [_listing_writer(ws, column) for column in listing.columns]
    for count, row in enumerate(listing_rows(listing, ctx), start=1):
        ws.append([write(value) for write, value in zip(writers, row, strict=True)])
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(count)
    ws.append([])
    ws.append([cell(ws, "Summary", font=TITLE)])
    for line in _table_rows(ws, result, span):
        ws.append(line)
    for line in _footnotes(ws, [*result.footnotes, *result.notes]):
        ws.append(line)


def _listing_writer(ws: WriteOnlyWorksheet, column: ListingColumn) -> Callable[[Any], Any]:
    """Per-column cell maker for the streamed listing. Plain strings and None go
    to openpyxl as raw values (its cheapest path); numbers and dates get a cell
    carrying a prepared style; risky strings go through :func:`cell`."""
    if column.kind == "number" and column.decimals is None:
        number_format = "General"  # as recorded
    elif column.kind == "number":
        number_format = "0" if column.decimals == 0 else "0." + "0" * column.decimals
    elif column.kind == "date":
        number_format = "yyyy-mm-dd"
    else:
        number_format = None
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
) -> Path:
    """Write the workbook to a temporary file beside ``path`` and rename it into
    place, so a rebuild replaces the file whole and a crash leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook(write_only=True)
    write_cover(wb, cover, results)
    for result in results:
        if progress is not None:
            progress(f"Writing {result.name}")
        if result.listing is not None:
            # No progress commits while the listing's cursor is open.
            write_listing(wb, result, ctx)
        else:
            write_table(wb, result)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        wb.save(temporary)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
    return path
