"""One summary table as a Word document, for journals that take Word tables.

Rendered from the table's JSON as stored with the job, so the document prints
exactly the texts of the JSON, the HTML preview and the workbook sheet: the
title, a Word table whose header cells are merged as in the sheet (a group over
its columns, the corner and ungrouped columns over both header rows), one cell
per printed cell, and the footnotes under it. A listing (when the job kept one)
comes first as its own table, as published characteristics tables print it.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import docx
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt
from docx.table import Table, _Cell

from trialdm.summaries.workbook import header_grid

BODY_SIZE = Pt(9)
NOTE_SIZE = Pt(8)
# Beyond this many printed columns the page is turned to landscape.
PORTRAIT_COLUMNS = 5


def _write(
    cell: _Cell,
    text: str,
    bold: bool = False,
    align: Any = None,
    indent: bool = False,
) -> None:
    paragraph = cell.paragraphs[0]
    if text:
        run = paragraph.add_run(text)
        run.bold = bold
        run.font.size = BODY_SIZE
    if align is not None:
        paragraph.alignment = align
    if indent:
        paragraph.paragraph_format.left_indent = Pt(8)


def _header(table: Table, corner: str, columns: Sequence[Mapping[str, Any]]) -> None:
    grid = header_grid(corner, [(c.get("group"), c["label"]) for c in columns])
    for h in grid:
        target = table.cell(h.row, h.col)
        if h.rowspan > 1 or h.colspan > 1:
            target = target.merge(table.cell(h.row + h.rowspan - 1, h.col + h.colspan - 1))
        align = WD_ALIGN_PARAGRAPH.LEFT if h.col == 0 else WD_ALIGN_PARAGRAPH.CENTER
        _write(target, h.text, bold=True, align=align)


def _summary_table(document: Any, body: Mapping[str, Any]) -> None:
    columns = body["columns"]
    height = 2 if any(c.get("group") for c in columns) else 1
    rows = body["rows"]
    table = document.add_table(rows=height + len(rows), cols=1 + len(columns))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    _header(table, body.get("corner") or "", columns)
    for index, row in enumerate(rows):
        cells = table.rows[height + index].cells
        kind = row.get("kind")
        _write(
            cells[0], row["label"], bold=kind == "heading", indent=kind in ("category", "missing")
        )
        for target, printed in zip(cells[1:], row["cells"], strict=True):
            _write(target, printed.get("text") or "", align=WD_ALIGN_PARAGRAPH.CENTER)


def _listing_table(document: Any, listing: Mapping[str, Any]) -> None:
    headers = listing["columns"]
    rows = listing.get("rows") or []
    table = document.add_table(rows=1 + len(rows), cols=len(headers))
    table.style = "Table Grid"
    for target, text in zip(table.rows[0].cells, headers, strict=True):
        _write(target, text, bold=True)
    for index, row in enumerate(rows, start=1):
        for target, value in zip(table.rows[index].cells, row, strict=True):
            _write(target, "" if value is None else str(value))


def table_document(body: Mapping[str, Any]) -> bytes:
    """The .docx of one table's JSON (as :func:`operations.table_json` stores it)."""
    document = docx.Document()
    if 1 + len(body["columns"]) > PORTRAIT_COLUMNS + 1:
        section = document.sections[0]
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = section.page_height, section.page_width
    title = document.add_paragraph()
    title.add_run(body["title"]).bold = True
    listing = body.get("listing")
    if listing and listing.get("rows"):
        _listing_table(document, listing)
        if listing.get("truncated"):
            note = document.add_paragraph()
            note.add_run(
                f"Only the first {len(listing['rows'])} people are listed; "
                "the workbook lists everyone."
            ).font.size = NOTE_SIZE
        document.add_paragraph()
    _summary_table(document, body)
    # Manuscript footnotes, then the method notes apart from them.
    for block in (body.get("footnotes") or (), body.get("notes") or ()):
        if block:
            document.add_paragraph()
        for text in block:
            note = document.add_paragraph()
            note.paragraph_format.space_after = Pt(2)
            note.add_run(text).font.size = NOTE_SIZE
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
