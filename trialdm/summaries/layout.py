"""Layouts of a computed table that journals ask for: n and % in two cells.

Each column becomes two, ``n`` and ``%``, under the column's header; an n (%) cell
is split into its count and its percentage, any other cell (a mean, a median, a
value) stays whole in the first of the two.
"""

from __future__ import annotations

from dataclasses import replace

from trialdm.summaries.engine import Cell, Column, TableResult, fmt


def _split(cell: Cell, sign: str, decimals: int) -> tuple[Cell, Cell]:
    """The count (with what suppression and the numbers sheet read of the cell)
    and the percentage; a cell printed without a percentage (a hidden cell, a
    count whose column N is hidden, a zero text) stays whole in the first."""
    if cell.names != ("n", "%"):
        return cell, Cell("")
    n, share = cell.values
    return (
        Cell(str(n), (n,), (cell.formats[0],), names=("n",), count=cell.count),
        Cell(f"{fmt(share * 100, decimals)}{sign}", (share,), (cell.formats[1],), names=("%",)),
    )


def n_and_pct_apart(result: TableResult, decimals: int, sign: bool) -> TableResult:
    """Run after small-cell suppression, which reads and hides whole n (%) cells."""
    columns: list[Column] = []
    for column in result.columns:
        columns.append(Column(column.key, "n", column.label, column.n, column.n_hidden))
        columns.append(Column((*column.key, "%"), "%", column.label, column.n, column.n_hidden))
    rows = []
    for row in result.rows:
        cells: list[Cell] = []
        for cell in row.cells:
            cells.extend(_split(cell, "%" if sign else "", decimals))
        rows.append(replace(row, cells=cells))
    return replace(result, columns=columns, rows=rows)
