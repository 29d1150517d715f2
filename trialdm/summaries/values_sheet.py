"""The "values" sheet beside each printed table: every statistic behind its cells
as a number with its number format, one line per row, column and statistic, for
those who compute further."""

from __future__ import annotations

from collections.abc import Iterator
from copy import copy
from datetime import datetime
from typing import Any

from flask_babel import gettext
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from trialdm.core.errors import N_
from trialdm.summaries.cells import (
    BOLD,
    TITLE,
    cell,
    needs_care,
    needs_quoting,
    set_widths,
    text_row,
    text_width,
)
from trialdm.summaries.engine import TableResult
from trialdm.summaries.listing_sheet import FastRows
from trialdm.summaries.specfiles.texts import statistic_text

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
    widths[0] = max([widths[0]] + [text_width(r.label) for r in result.rows])
    widths[2] = max([widths[2]] + [text_width(c.parent) for c in result.columns])
    widths[3] = max([widths[3]] + [text_width(c.label) for c in result.columns])
    widths[1], widths[4], widths[5] = 30, 12, 14
    set_widths(ws, widths)
    ws.freeze_panes = "A4"
    # Thousands of lines for a table with many sites: written as prepared XML
    # (:class:`FastRows`, one style per number format); a line with a value that
    # needs openpyxl (a formula-like text, a date) goes through it as before.
    fast = FastRows(ws, [None] * len(NUMBERS_HEADER), needs_care)
    title = gettext("%(table)s: the numbers of each cell", table=result.title)
    ws.append(text_row(ws, fast, 1, [(title, TITLE, None)]))
    ws.append([])
    ws.append(text_row(ws, fast, 3, [(gettext(h), BOLD, None) for h in NUMBERS_HEADER]))
    row_styles: dict[str, list[str | None]] = {}
    styles: dict[str, Any] = {}

    def text(value: str) -> Any:
        if needs_quoting(value):
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
    # A handful of statistics' names, each translated once for the sheet's lines.
    statistics: dict[str, str] = {}
    row = 3
    for *labels, statistic, value, number_format in numbers_lines(result):
        name = statistics.get(statistic)
        if name is None:
            name = statistics[statistic] = statistic_text(statistic)
        labels.append(name)
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
