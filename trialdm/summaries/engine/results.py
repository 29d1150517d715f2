"""What a computed table is: printed cells with their typed values, columns,
rows, and the table, as the JSON, the pages, the workbook and Word read them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from trialdm.summaries.spec import ListingSpec


@dataclass
class Cell:
    """Typed values (for the workbook) and the printed text (for JSON and papers).

    ``names`` name the values (n, %, mean, SD, ...) for the workbook's numbers
    sheet. ``count`` is the count of people (or events) the cell publishes, which
    sums with other cells; ``basis`` the people a statistic is computed from;
    ``parts`` the labelled counts inside a breakdown cell. Small-cell
    suppression (:mod:`.suppression`) reads these three.
    """

    text: str
    values: tuple[Any, ...] = ()
    formats: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    count: int | None = None
    basis: int | None = None
    parts: tuple[tuple[str, int], ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"text": self.text, "values": _json_values(self.values)}


@dataclass
class Column:
    key: tuple[Any, ...]
    label: str
    parent: str | None = None
    n: int = 0
    # The printed N when suppression hides it ("<5", "[c]", or "" when the table
    # does not print its N); None: N is shown.
    n_hidden: str | None = None


@dataclass
class ResultRow:
    label: str
    kind: str  # stat | heading | category | missing
    cells: list[Cell] = field(default_factory=list)
    # The spec row it comes from (its index and statistic), for suppression.
    block: int = -1
    stat: str = ""


@dataclass
class ChartData:
    title: str
    categories: list[date]
    series: dict[str, list[int]]
    y_title: str = ""


@dataclass
class TableResult:
    name: str
    title: str
    corner: str
    columns: list[Column]
    rows: list[ResultRow]
    footnotes: list[str]
    listing: ListingSpec | None = None
    chart: ChartData | None = None
    notes: list[str] = field(default_factory=list)
    n_below_header: bool = True
    # The last column is the total of the others (the groups partition the people).
    has_total: bool = False
    # Small-cell threshold the table was printed with (0: none); listings are
    # left out when it is set.
    suppress_below: int = 0
    # What the percentages of n (%) cells are of: "column" (the column N) or
    # "non_missing" (the column N less the block's missing line).
    percent_of: str = "column"
    # The column headers print each column's N (a header template with {N}).
    n_in_header: bool = False

    def as_json(self, listing_rows: list[list[Any]] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "title": self.title,
            "corner": self.corner,
            "columns": [
                {
                    "label": c.label,
                    "group": c.parent,
                    "n": None if c.n_hidden is not None else c.n,
                    "n_text": str(c.n) if c.n_hidden is None else c.n_hidden,
                    "key": [str(k) for k in c.key],
                }
                for c in self.columns
            ],
            "rows": [
                {"label": r.label, "kind": r.kind, "cells": [c.as_json() for c in r.cells]}
                for r in self.rows
            ],
            "footnotes": self.footnotes,
            "notes": self.notes,
            "n_below_header": self.n_below_header,
        }
        if self.listing is not None and not self.suppress_below:
            body["listing"] = {
                "columns": [c.label for c in self.listing.columns],
                "keys": [c.key for c in self.listing.columns],
                "rows": [_json_values(row) for row in (listing_rows or [])],
            }
        if self.chart is not None:
            body["chart"] = {
                "title": self.chart.title,
                "categories": [d.isoformat() for d in self.chart.categories],
                "series": self.chart.series,
            }
        return body


def _json_values(values: Iterable[Any]) -> list[Any]:
    """``values`` as the JSON holds them: dates and times as ISO texts (one call per
    row or cell, not per value)."""
    return [v.isoformat() if isinstance(v, (date, datetime)) else v for v in values]
