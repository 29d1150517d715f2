"""Layouts of a computed table that journals ask for: n and % in two cells.

Each column becomes two, ``n`` and ``%``, under the column's header; an n (%) cell
is split into its count and its percentage, any other cell (a mean, a median, a
value) stays whole in the first of the two.
"""

from __future__ import annotations

from dataclasses import replace

from trialdm.summaries.engine import Cell, Column, ResultRow, TableResult, fmt


def _split(cell: Cell, sign: str, decimals: int) -> tuple[Cell, Cell]:
    is_n_pct = len(cell.values) == 2 and len(cell.formats) == 2 and cell.formats[1].endswith("%")
    if not is_n_pct:
        return cell, Cell("")
    n, share = cell.values
    return (
        Cell(str(n), (n,), (cell.formats[0],)),
        Cell(f"{fmt(share * 100, decimals)}{sign}", (share,), (cell.formats[1],)),
    )


def n_and_pct_apart(result: TableResult, decimals: int, sign: bool) -> TableResult:
    columns: list[Column] = []
    for column in result.columns:
        columns.append(Column(column.key, "n", column.label, column.n))
        columns.append(Column((*column.key, "%"), "%", column.label, column.n))
    rows = []
    for row in result.rows:
        cells: list[Cell] = []
        for cell in row.cells:
            cells.extend(_split(cell, "%" if sign else "", decimals))
        rows.append(ResultRow(row.label, row.kind, cells))
    return replace(result, columns=columns, rows=rows)
