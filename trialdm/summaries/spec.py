"""The declarative description of a summary table.

A :class:`TableSpec` names a population (an ORM select of labelled columns, so
the central site filter applies), how its columns are grouped, the rows with
the statistic of each, and how numbers are printed. :mod:`.engine` turns a spec
into SQL aggregates; adding a comparison is a new spec, not new code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, case
from sqlalchemy.orm import Session

# Statistics a row may ask for.
STATS = (
    "n",  # people in the column
    "count",  # sum of a 0/1 indicator column
    "n_pct",  # one line per category: n (%); missing as its own line
    "multi_pct",  # several values per person: n (%) of people; "none recorded" line
    "breakdown",  # "4 (f=3, m=1)": total and the non-zero categories
    "mean_sd",
    "mean_sd_range",
    "mean_range",
    "median_iqr",
    "median_range",
    "value",  # the column's single value (a date, a duration, a place)
    "share",  # sum of a column as n (%) of the sum of another (e.g. contacts by format)
    "counts",  # one line per category: n (no percentage, no missing line)
)
# the statistics counted by category (fixed in the spec, or by value when not)
CATEGORICAL = ("n_pct", "breakdown", "counts")
EN_DASH = "–"


@dataclass(frozen=True)
class BuildContext:
    """What a computation may depend on besides the data."""

    session: Session
    read_at: datetime
    suppress_below: int = 0
    diagnosis_vocabulary: Mapping[str, str] = field(default_factory=dict)
    progress: Callable[[str], None] | None = None
    # Populations written once in this build: spec name -> (scope, temporary table).
    temporaries: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    label: str
    stat: str
    variable: str | None = None
    # Fixed categories (value, label) in print order, or a function of the build
    # context giving them (e.g. from the settings); None: as found, most frequent first.
    categories: (
        tuple[tuple[str, str], ...] | Callable[[BuildContext], tuple[tuple[str, str], ...]] | None
    ) = None
    # Label of a value found in the data (when categories are not fixed).
    value_label: Callable[[Any, BuildContext], str] | None = None
    decimals: int = 1
    sd_decimals: int | None = None
    # Excel number format and text suffix of a "value" row (e.g. ' min').
    unit: str = ""
    # True: a missing line; False: none; "when_any": a line only when something is
    # missing; "footnote": no line, a footnote when something is missing; None: the
    # table's style.
    missing: bool | str | None = True
    missing_label: str | None = None
    other_label: str | None = None
    # For multi_pct: the name of a multi-valued source in TableSpec.multi.
    source: str | None = None
    # For share: the column whose sum is the denominator.
    denominator: str | None = None

    def __post_init__(self) -> None:
        if self.stat not in STATS:
            raise ValueError(f"unknown statistic {self.stat!r}")


@dataclass(frozen=True)
class ListingColumn:
    key: str
    label: str
    kind: str = "text"  # text | number | date
    decimals: int | None = 0  # None: as recorded
    convert: Callable[[Any, BuildContext], Any] | None = None
    width: int | None = None


@dataclass(frozen=True)
class ListingSpec:
    """One line per person, streamed from the database (never all in memory)."""

    query: Callable[[BuildContext], Select]
    columns: tuple[ListingColumn, ...]
    json_limit: int = 1000
    # (raw row, its 1-based number, context) -> the printed row, when the columns
    # shown are not one-to-one with the statement's (e.g. a label from a template)
    shape: Callable[[Any, int, BuildContext], list[Any]] | None = None


@dataclass(frozen=True)
class TableSpec:
    name: str
    title: str
    population: Callable[[BuildContext], Select]
    rows: tuple[Row, ...]
    group_by: tuple[str, ...] = ()
    # Population columns carried per column for its header (min per group).
    label_columns: tuple[str, ...] = ()
    # (group values, label values) -> (parent header or None, header)
    column_label: Callable[[dict[str, Any]], tuple[str | None, str]] | None = None
    # The same for all columns at once (ordinal positions, single-child headers);
    # columns under one parent header are then kept together.
    column_labels: Callable[[list[dict[str, Any]]], list[tuple[str | None, str]]] | None = None
    # (header, people in the column) -> the header printed, e.g. 'Focus groups (N = 11)';
    # the N is its small-cell mark ("<5", "[c]") when suppression hides it.
    header_n: Callable[[str, int | str], str] | None = None
    order_by: tuple[str, ...] | None = None
    total: bool = True
    total_label: str = "Total"
    corner: str = ""
    # Footnotes as a manuscript prints them (abbreviations, statistics) ...
    footnotes: tuple[str, ...] = ()
    # ... and notes on method (population, rules), kept apart.
    notes: tuple[str, ...] = ()
    multi: Mapping[str, Callable[[BuildContext], Select]] = field(default_factory=dict)
    pct_decimals: int = 1
    pct_sign: bool = True
    # n (%) in one cell, or n and % in two cells under the column's header
    n_pct_cells: int = 1
    # Percentages of the people in the column, or of those with a value.
    percent_of: str = "column"
    # Text of a zero count in an n (%) cell; None: printed as any count.
    zero: str | None = None
    # Missing lines of rows that do not say: see Row.missing.
    missing: str = "line"
    range_separator: str = EN_DASH
    # The HTML preview prints "N = x" under each header (off when the header has it).
    n_below_header: bool = True
    listing: ListingSpec | None = None
    # Extra data for a chart: (session, context) -> ChartData
    chart: Callable[[BuildContext], Any] | None = None
    # The population's column that carries each row's site, when the scope is
    # applied to that column (a built-in population such as the fidelity rule)
    # rather than by the ORM's site criteria on every site-scoped table it reads.
    site_column: str | None = None


@dataclass(frozen=True)
class Bands:
    """Age (or other) bands as printed, e.g. 25-30, 31-35, ...; outside: <25, >55."""

    bounds: tuple[tuple[int, int], ...]
    separator: str = "-"

    def labels(self) -> tuple[tuple[str, str], ...]:
        names = [f"{lo}{self.separator}{hi}" for lo, hi in self.bounds]
        first, last = self.bounds[0][0], self.bounds[-1][1]
        return tuple((n, n) for n in [f"<{first}", *names, f">{last}"])

    def expression(self, value: ColumnElement) -> ColumnElement:
        first, last = self.bounds[0][0], self.bounds[-1][1]
        whens = [(value < first, f"<{first}")]
        whens += [(value <= hi, f"{lo}{self.separator}{hi}") for lo, hi in self.bounds]
        whens.append((value > last, f">{last}"))
        return case(*whens, else_=None)
