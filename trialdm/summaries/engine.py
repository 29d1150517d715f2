"""Compute a :class:`~trialdm.summaries.spec.TableSpec` with SQL aggregation.

Every statistic is a GROUP BY in the database over the spec's population (a
subquery of ORM entities, so the central site filter applies); Python only
combines the handful of per-group rows (totals of additive sums) and prints.
The number of queries depends on the spec, never on the number of people.

- Sample SD (n-1) from the count, sum and sum of squares.
- Median and quartiles with window functions (row_number and count over the
  group), interpolated like ``statistics.quantiles(method="inclusive")``
  (numpy's default, Excel's QUARTILE.INC); SQLite has no median().
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Float, Select, and_, case, cast, func, literal, select, union_all

from trialdm.summaries.spec import BuildContext, ListingSpec, Row, TableSpec
from trialdm.summaries.suppression import suppress_small_cells

TOTAL = ("__total__",)
CONTINUOUS = ("mean_sd", "mean_sd_range", "mean_range", "median_iqr", "median_range")
# What each value of a continuous cell is, in the order of Cell.values.
STAT_NAMES = {
    "mean_sd": ("mean", "SD"),
    "mean_sd_range": ("mean", "SD", "minimum", "maximum"),
    "mean_range": ("mean", "minimum", "maximum"),
    "median_iqr": ("median", "Q1", "Q3"),
    "median_range": ("median", "minimum", "maximum"),
}


def _combine(how: str, mine: Any, theirs: Any) -> Any:
    """Combine one group's aggregate into the total column's."""
    if theirs is None:
        return mine
    if mine is None:
        return theirs
    if how == "min":
        return min(mine, theirs)
    if how == "max":
        return max(mine, theirs)
    return mine + theirs


# ---------------------------------------------------------------- results


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
        return {"text": self.text, "values": [_json_value(v) for v in self.values]}


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
                "rows": [[_json_value(v) for v in row] for row in (listing_rows or [])],
            }
        if self.chart is not None:
            body["chart"] = {
                "title": self.chart.title,
                "categories": [d.isoformat() for d in self.chart.categories],
                "series": self.chart.series,
            }
        return body


def _json_value(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


# ---------------------------------------------------------------- printing


def rounded(value: float, decimals: int) -> Decimal:
    """Half-up rounding as tables print it (Python's round() is half-even)."""
    quantum = Decimal(1).scaleb(-decimals)
    return Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP)


def fmt(value: float | None, decimals: int) -> str:
    if value is None:
        return "–"
    return f"{rounded(value, decimals):f}"


def plain(value: float | None) -> str:
    """A minimum or maximum as recorded: 29, 2.5."""
    if value is None:
        return "–"
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:g}"


def number_format(decimals: int) -> str:
    return "0" if decimals <= 0 else "0." + "0" * decimals


def long_date(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


def breakdown_text(head: str, parts: Sequence[tuple[str, str]]) -> str:
    """``4 (f=3, m=1)``: the total, then each shown part."""
    inner = ", ".join(f"{label}={shown}" for label, shown in parts)
    return f"{head} ({inner})" if inner else head


class Printer:
    """Counts as printed. Small cells are hidden afterwards, over the whole table
    (:func:`trialdm.summaries.suppression.suppress_small_cells`)."""

    def __init__(self, spec: TableSpec, ctx: BuildContext) -> None:
        self.spec = spec

    def count(self, n: int) -> Cell:
        return Cell(str(n), (n,), ("0",), names=("n",), count=n)

    def n_pct(self, n: int, denominator: int) -> Cell:
        if n == 0 and self.spec.zero is not None:
            return Cell(self.spec.zero, (0,), ("0",), names=("n",), count=0)
        if not denominator:
            return Cell(str(n), (n,), ("0",), names=("n",), count=n)
        share = n / denominator
        pct = fmt(share * 100, self.spec.pct_decimals)
        sign = "%" if self.spec.pct_sign else ""
        return Cell(
            f"{n} ({pct}{sign})",
            (n, share),
            ("0", pct_format(self.spec.pct_decimals)),
            names=("n", "%"),
            count=n,
        )

    def breakdown(self, n: int, parts: list[tuple[str, int]]) -> Cell:
        shown = tuple((a, c) for a, c in parts if c)
        return Cell(
            breakdown_text(str(n), [(a, str(c)) for a, c in shown]),
            (n, *(c for _, c in shown)),
            ("0",) * (1 + len(shown)),
            names=("n", *(f"n {a}" for a, _ in shown)),
            count=n,
            parts=shown,
        )

    def empty(self) -> Cell:
        return Cell("–", (None,), ("@",))


def pct_format(decimals: int) -> str:
    return "0%" if decimals <= 0 else "0." + "0" * decimals + "%"


# ---------------------------------------------------------------- moments


@dataclass
class Moments:
    n: int = 0
    total: float = 0.0
    squares: float = 0.0
    low: float | None = None
    high: float | None = None

    def add(self, other: Moments) -> None:
        self.n += other.n
        self.total += other.total
        self.squares += other.squares
        for name, pick in (("low", min), ("high", max)):
            mine, theirs = getattr(self, name), getattr(other, name)
            if theirs is not None:
                setattr(self, name, theirs if mine is None else pick(mine, theirs))

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    @property
    def sd(self) -> float | None:
        """Sample standard deviation (n-1)."""
        if self.n < 2:
            return None
        variance = (self.squares - self.total * self.total / self.n) / (self.n - 1)
        return math.sqrt(max(variance, 0.0))


# ---------------------------------------------------------------- engine


class TableEngine:
    """Runs the aggregates of one spec. ``queries`` counts the statements run."""

    def __init__(self, spec: TableSpec, ctx: BuildContext) -> None:
        self.spec = spec
        self.ctx = ctx
        self.session = ctx.session
        self.population = spec.population(ctx).subquery("population")
        self.keys = [self.population.c[name] for name in spec.group_by]
        self.printer = Printer(spec, ctx)
        self.columns: list[Column] = []
        self.missing_notes: list[str] = []
        # Categories that depend on the build (settings) are resolved once here.
        self.rows = [
            replace(row, categories=row.categories(ctx)) if callable(row.categories) else row
            for row in spec.rows
        ]

    # --- helpers

    def _key(self, row: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(row[: len(self.keys)]) if self.keys else TOTAL

    def _grouped(self, *columns: Any, where: Any = None, extra_group: Sequence[Any] = ()) -> list:
        stmt = select(*self.keys, *extra_group, *columns).select_from(self.population)
        if where is not None:
            stmt = stmt.where(where)
        if self.keys or extra_group:
            stmt = stmt.group_by(*self.keys, *extra_group)
        return list(self.session.execute(stmt))

    @property
    def with_total(self) -> bool:
        return bool(self.keys) and self.spec.total

    def _all_keys(self) -> list[tuple[Any, ...]]:
        return [c.key for c in self.columns]

    # --- columns

    def _single_pass(self) -> list[tuple[str, str, Any]]:
        """(name, how totals combine, aggregate) for everything the rows need that
        one GROUP BY can give: counts, fixed categories, moments, values."""
        found: list[tuple[str, str, Any]] = []
        for i, row in enumerate(self.rows):
            col = self.population.c[row.variable] if row.variable else None
            if row.stat == "count":
                found.append((f"{i}:sum", "sum", func.sum(col)))
            elif row.stat == "share":
                denominator = self.population.c[row.denominator]
                found.append((f"{i}:sum", "sum", func.sum(col)))
                found.append((f"{i}:den", "sum", func.sum(denominator)))
            elif row.stat in ("n_pct", "breakdown", "counts") and row.categories is not None:
                values = [value for value, _ in row.categories]
                for j, value in enumerate(values):
                    found.append((f"{i}:c{j}", "sum", func.sum(case((col == value, 1), else_=0))))
                found.append((f"{i}:null", "sum", func.sum(case((col.is_(None), 1), else_=0))))
                unlisted = and_(col.is_not(None), col.not_in(values))
                found.append((f"{i}:other", "sum", func.sum(case((unlisted, 1), else_=0))))
            elif row.stat in CONTINUOUS:
                x = cast(col, Float)
                found += [
                    (f"{i}:n", "sum", func.count(x)),
                    (f"{i}:s", "fsum", func.sum(x)),
                    (f"{i}:q", "fsum", func.sum(x * x)),
                    (f"{i}:lo", "min", func.min(x)),
                    (f"{i}:hi", "max", func.max(x)),
                ]
            elif row.stat == "value":
                found.append((f"{i}:v", "min", func.min(col)))
        return found

    def load_columns(self) -> None:
        """The columns and, in the same pass, every additive aggregate of the rows."""
        spec = self.spec
        labels = [func.min(self.population.c[name]) for name in spec.label_columns]
        order = [func.min(self.population.c[name]) for name in (spec.order_by or ())]
        aggregates = self._single_pass()
        # n counts people: rows with a person id, when the population has one (a
        # focus group without members yet is a column with n = 0)
        people = func.count(self.population.c.pid) if "pid" in self.population.c else func.count()
        stmt = select(*self.keys, *labels, *[agg for _, _, agg in aggregates], people).select_from(
            self.population
        )
        if self.keys:
            stmt = stmt.group_by(*self.keys).order_by(*(order or self.keys))
        columns: list[Column] = []
        heads: list[dict[str, Any]] = []
        grand = 0
        self.aggregates = {}
        total: dict[str, Any] = {}
        width = len(self.keys) + len(labels)
        for row in self.session.execute(stmt):
            n = int(row[-1] or 0)
            values = dict(zip([name for name, _, _ in aggregates], row[width:-1], strict=True))
            if not self.keys:
                if n or not columns:
                    columns.append(Column(TOTAL, spec.total_label, None, n))
                    self.aggregates[TOTAL] = values
                break
            head = dict(zip(spec.group_by + spec.label_columns, row[:width], strict=True))
            heads.append(head)
            key = self._key(row)
            columns.append(Column(key, "", None, n))
            self.aggregates[key] = values
            for name, how, _ in aggregates:
                total[name] = _combine(how, total.get(name), values[name])
            grand += n
        if heads:
            columns = self._label_columns(columns, heads)
        if self.with_total:
            columns.append(Column(TOTAL, spec.total_label, None, grand))
            self.aggregates[TOTAL] = total
        self.columns = columns

    def _label_columns(self, columns: list[Column], heads: list[dict[str, Any]]) -> list[Column]:
        spec = self.spec
        if spec.column_labels is not None:
            labels = spec.column_labels(heads)
        elif spec.column_label is not None:
            labels = [spec.column_label(head) for head in heads]
        else:
            labels = [(None, " / ".join(str(head[k]) for k in spec.group_by)) for head in heads]
        for column, (parent, label) in zip(columns, labels, strict=True):
            column.parent, column.label = parent, label
        if spec.column_labels is None:
            return columns
        # columns under one header stay together, in the order the first one came
        first: dict[str | None, int] = {}
        for i, column in enumerate(columns):
            first.setdefault(column.parent if column.parent is not None else f"#{i}", i)
        return sorted(
            columns,
            key=lambda c: first[c.parent if c.parent is not None else f"#{columns.index(c)}"],
        )

    def agg(self, key: tuple, name: str) -> Any:
        return self.aggregates.get(key, {}).get(name)

    def sizes(self) -> dict[tuple[Any, ...], int]:
        return {c.key: c.n for c in self.columns}

    # --- statistics

    def counts_by(self, value: Any, where: Any = None) -> dict[tuple, dict[Any, int]]:
        """key -> value -> count (with the total column)."""
        found: dict[tuple, dict[Any, int]] = defaultdict(lambda: defaultdict(int))
        for row in self._grouped(func.count(), where=where, extra_group=[value]):
            key = self._key(row)
            found[key][row[len(self.keys)]] += int(row[-1])
            if self.with_total:
                found[TOTAL][row[len(self.keys)]] += int(row[-1])
        return found

    def quartiles(self, value: Any) -> dict[tuple, tuple[float, float, float]]:
        """key -> (Q1, median, Q3), inclusive method, for the groups and the total, in
        one statement: the population is ranked once (a CTE) with a window per group
        and one over everything, then aggregated at both levels (UNION ALL)."""
        x = cast(value, Float)
        keys = self.keys
        windows = [
            func.row_number().over(partition_by=keys or None, order_by=x).label("rn"),
            func.count().over(partition_by=keys or None).label("cnt"),
        ]
        both = bool(keys) and self.with_total
        if both:
            windows += [
                func.row_number().over(order_by=x).label("rn_all"),
                func.count().over().label("cnt_all"),
            ]
        ranked = (
            select(*[k.label(f"k{i}") for i, k in enumerate(keys)], x.label("x"), *windows)
            .select_from(self.population)
            .where(value.is_not(None))
            .cte("ranked")
        )
        rkeys = [ranked.c[f"k{i}"] for i in range(len(keys))]

        def level(marker: str, rn: Any, cnt: Any, group_keys: list[Any]) -> Any:
            parts = []
            for k in (1, 2, 3):
                position = (cnt - 1) * k
                low_rank = position // 4 + 1
                parts += [
                    func.max(case((rn == low_rank, ranked.c.x))),
                    func.max(case((rn == low_rank + 1, ranked.c.x))),
                    func.max(position % 4),
                ]
            shown_keys = group_keys or [literal(None) for _ in rkeys]
            stmt = select(literal(marker), *shown_keys, func.max(cnt), *parts)
            return stmt.group_by(*group_keys) if group_keys else stmt

        stmt = level("g", ranked.c.rn, ranked.c.cnt, rkeys)
        if both:
            stmt = union_all(stmt, level("t", ranked.c.rn_all, ranked.c.cnt_all, []))
        result = {}
        width = 1 + len(rkeys)
        for row in self.session.execute(stmt):
            if not row[width]:
                continue
            key = tuple(row[1:width]) if row[0] == "g" and rkeys else TOTAL
            values = row[width + 1 :]
            qs = []
            for i in range(3):
                low, high, remainder = values[3 * i : 3 * i + 3]
                low = float(low)
                if remainder:
                    low += (int(remainder) / 4) * (float(high) - low)
                qs.append(low)
            result[key] = (qs[0], qs[1], qs[2])
        return result

    # --- rows

    def compute(self) -> TableResult:
        self.load_columns()
        rows: list[ResultRow] = []
        for index, row in enumerate(self.rows):
            for line in self.row(index, row):
                line.block, line.stat = index, row.stat
                rows.append(line)
        chart = self.spec.chart(self.ctx) if self.spec.chart else None
        result = TableResult(
            name=self.spec.name,
            title=self.spec.title,
            corner=self.spec.corner,
            columns=self.columns,
            rows=rows,
            footnotes=[*self.spec.footnotes, *self.missing_notes],
            listing=self.spec.listing,
            chart=chart,
            notes=list(self.spec.notes),
            n_below_header=self.spec.n_below_header,
            has_total=self.with_total,
            percent_of=self.spec.percent_of,
            n_in_header=self.spec.header_n is not None,
        )
        suppress_small_cells(result, self.ctx.suppress_below, breakdown_text)
        if self.spec.header_n is not None:
            # After suppression: a hidden N prints as its mark in the header too.
            for column in result.columns:
                shown = column.n if column.n_hidden is None else column.n_hidden
                column.label = self.spec.header_n(column.label, shown)
        return result

    def row(self, index: int, row: Row) -> Iterator[ResultRow]:
        p = self.printer
        keys = self._all_keys()
        sizes = self.sizes()
        col = self.population.c[row.variable] if row.variable else None
        if row.stat == "n":
            yield ResultRow(row.label, "stat", [p.count(sizes[k]) for k in keys])
        elif row.stat == "count":
            yield ResultRow(
                row.label, "stat", [p.count(int(self.agg(k, f"{index}:sum") or 0)) for k in keys]
            )
        elif row.stat == "share":
            yield ResultRow(
                row.label,
                "stat",
                [
                    p.n_pct(
                        int(self.agg(k, f"{index}:sum") or 0),
                        int(self.agg(k, f"{index}:den") or 0),
                    )
                    for k in keys
                ],
            )
        elif row.stat in ("n_pct", "breakdown", "counts"):
            yield from self._categorical(index, row, col, keys, sizes)
        elif row.stat == "multi_pct":
            yield from self._multi(row, keys, sizes)
        elif row.stat == "value":
            yield ResultRow(
                row.label,
                "stat",
                [self._value_cell(row, self.agg(k, f"{index}:v")) for k in keys],
            )
        else:
            yield from self._continuous(index, row, col, keys, sizes)

    def moments_of(self, index: int, key: tuple) -> Moments:
        n = self.agg(key, f"{index}:n")
        if not n:
            return Moments()
        low, high = self.agg(key, f"{index}:lo"), self.agg(key, f"{index}:hi")
        return Moments(
            int(n),
            float(self.agg(key, f"{index}:s") or 0),
            float(self.agg(key, f"{index}:q") or 0),
            None if low is None else float(low),
            None if high is None else float(high),
        )

    def _labels(self, row: Row, counts: dict[tuple, dict[Any, int]]) -> list[tuple[Any, str]]:
        if row.categories is not None:
            return list(row.categories)
        totals: dict[Any, int] = defaultdict(int)
        for per_key in counts.values():
            for value, n in per_key.items():
                if value is not None:
                    totals[value] += n
        ordered = sorted(totals, key=lambda v: (-totals[v], str(v)))
        label = row.value_label or (lambda value, ctx: str(value))
        return [(v, label(v, self.ctx)) for v in ordered]

    def _categorical(self, index, row, col, keys, sizes) -> Iterator[ResultRow]:
        p = self.printer
        unlisted: dict[tuple, int] = {}
        if row.categories is None:
            counts = self.counts_by(col)
        else:
            counts = {}
            for k in keys:
                per_value = {
                    value: int(self.agg(k, f"{index}:c{j}") or 0)
                    for j, (value, _) in enumerate(row.categories)
                }
                per_value[None] = int(self.agg(k, f"{index}:null") or 0)
                counts[k] = per_value
                unlisted[k] = int(self.agg(k, f"{index}:other") or 0)
        categories = self._labels(row, counts)
        if row.stat == "breakdown":
            cells = []
            for k in keys:
                parts = [(label, counts.get(k, {}).get(value, 0)) for value, label in categories]
                cells.append(p.breakdown(sizes[k], parts))
            yield ResultRow(row.label, "stat", cells)
            return
        yield ResultRow(row.label, "heading", [Cell("") for _ in keys])
        if row.stat == "counts":
            for value, label in categories:
                yield ResultRow(
                    label, "category", [p.count(counts.get(k, {}).get(value, 0)) for k in keys]
                )
            return
        missing = {k: counts.get(k, {}).get(None, 0) for k in keys}
        bases = self._denominators(sizes, missing)
        for value, label in categories:
            yield ResultRow(
                label,
                "category",
                [p.n_pct(counts.get(k, {}).get(value, 0), bases[k]) for k in keys],
            )
        if any(unlisted.values()):
            # A value outside the fixed list is shown, never dropped.
            yield ResultRow(
                row.other_label or "Other (not in the list)",
                "category",
                [p.n_pct(unlisted.get(k, 0), bases[k]) for k in keys],
            )
        yield from self._missing(row, row.missing_label or "Missing", missing, sizes)

    def _multi(self, row, keys, sizes) -> Iterator[ResultRow]:
        p = self.printer
        source = self.spec.multi[row.source or row.variable or ""](self.ctx).subquery("multi")
        pid = self.population.c.pid
        joined = self.population.join(source, source.c.pid == pid)
        stmt = (
            select(*self.keys, source.c.value, func.count(func.distinct(pid)))
            .select_from(joined)
            .group_by(*self.keys, source.c.value)
        )
        counts: dict[tuple, dict[Any, int]] = defaultdict(lambda: defaultdict(int))
        for r in self.session.execute(stmt):
            key = self._key(r)
            value = r[len(self.keys)]
            counts[key][value] += int(r[-1])
            if self.with_total:
                counts[TOTAL][value] += int(r[-1])
        none = defaultdict(int)
        for r in self._grouped(func.count(), where=pid.not_in(select(source.c.pid))):
            none[self._key(r)] += int(r[-1])
            if self.with_total:
                none[TOTAL] += int(r[-1])
        yield ResultRow(row.label, "heading", [Cell("") for _ in keys])
        bases = self._denominators(sizes, none)
        for value, label in self._labels(row, counts):
            yield ResultRow(
                label,
                "category",
                [p.n_pct(counts.get(k, {}).get(value, 0), bases[k]) for k in keys],
            )
        yield from self._missing(row, row.missing_label or "None recorded", none, sizes)

    def _continuous(self, index, row, col, keys, sizes) -> Iterator[ResultRow]:
        p = self.printer
        sep = self.spec.range_separator
        d = row.decimals
        sd_d = row.sd_decimals if row.sd_decimals is not None else d
        moments = {k: self.moments_of(index, k) for k in keys}
        quartiles = self.quartiles(col) if row.stat.startswith("median") else {}
        cells = []
        for k in keys:
            m = moments.get(k, Moments())
            if not m.n:
                cells.append(p.empty())
                continue
            low, high = m.low, m.high
            if row.stat == "mean_sd":
                sd = m.sd
                cells.append(
                    Cell(
                        f"{fmt(m.mean, d)} ({fmt(sd, sd_d)})",
                        (m.mean, sd),
                        (number_format(d), number_format(sd_d)),
                    )
                )
            elif row.stat == "mean_sd_range":
                sd = m.sd
                spread = f"SD {fmt(sd, sd_d)}; range {plain(low)}{sep}{plain(high)}"
                cells.append(
                    Cell(
                        f"{fmt(m.mean, d)} ({spread})",
                        (m.mean, sd, low, high),
                        (number_format(d), number_format(sd_d), "General", "General"),
                    )
                )
            elif row.stat == "mean_range":
                cells.append(
                    Cell(
                        f"{fmt(m.mean, d)} ({plain(low)}{sep}{plain(high)})",
                        (m.mean, low, high),
                        (number_format(d), "General", "General"),
                    )
                )
            else:
                q1, median, q3 = quartiles[k]
                if row.stat == "median_iqr":
                    cells.append(
                        Cell(
                            f"{fmt(median, d)} ({fmt(q1, d)}{sep}{fmt(q3, d)})",
                            (median, q1, q3),
                            (number_format(d),) * 3,
                        )
                    )
                else:
                    cells.append(
                        Cell(
                            f"{fmt(median, d)} ({plain(low)}{sep}{plain(high)})",
                            (median, low, high),
                            (number_format(d), "General", "General"),
                        )
                    )
        for k, c in zip(keys, cells, strict=True):
            c.basis = moments.get(k, Moments()).n
            c.names = c.names or STAT_NAMES.get(row.stat, ())
        yield ResultRow(row.label, "stat", cells)
        missing = {k: sizes[k] - moments.get(k, Moments()).n for k in keys}
        yield from self._missing(row, row.missing_label or "Missing", missing, sizes)

    # --- missing values: a line, a line when any, or a footnote; never silent

    def _missing_mode(self, row: Row) -> str:
        if row.missing is None:
            mode = self.spec.missing
        elif isinstance(row.missing, bool):
            mode = "line" if row.missing else "none"
        else:
            mode = row.missing
        if mode == "footnote" and self.ctx.suppress_below > 1:
            # A footnote would print the counts past small-cell suppression; as a
            # line (when anything is missing) they are hidden like any other.
            return "when_any"
        return mode

    def _denominators(self, sizes: dict, missing: dict) -> dict:
        if self.spec.percent_of == "non_missing":
            return {k: sizes[k] - missing.get(k, 0) for k in sizes}
        return sizes

    def _missing(self, row: Row, label: str, missing: dict, sizes: dict) -> Iterator[ResultRow]:
        mode = self._missing_mode(row)
        something = any(missing.get(k, 0) for k in missing)
        if mode == "none" or (mode != "line" and not something):
            return
        if mode == "footnote":
            shown = [c for c in self.columns if c.key != TOTAL or len(self.columns) == 1]
            parts = [
                f"{missing[c.key]} of {c.n}" + (f" ({c.label})" if c.key != TOTAL else "")
                for c in shown
                if missing.get(c.key)
            ]
            self.missing_notes.append(f"{row.label}: no value recorded for {'; '.join(parts)}.")
            return
        p = self.printer
        if self.spec.percent_of == "non_missing":
            cells = [p.count(missing.get(c.key, 0)) for c in self.columns]
        else:
            cells = [p.n_pct(missing.get(c.key, 0), sizes[c.key]) for c in self.columns]
        yield ResultRow(label, "missing", cells)

    def _value_cell(self, row: Row, value: Any) -> Cell:
        cell = self._printed_value(row, value)
        cell.names = cell.names or ("value",)
        return cell

    def _printed_value(self, row: Row, value: Any) -> Cell:
        if value is None:
            return self.printer.empty()
        if isinstance(value, datetime):
            value = value.date()
        if isinstance(value, date):
            return Cell(long_date(value), (value,), ("d mmmm yyyy",))
        if isinstance(value, (int, float, Decimal)):
            number = float(value)
            shown = plain(number)
            suffix = row.unit
            excel = "General" if not suffix else f'General"{suffix}"'
            return Cell(
                f"{shown}{suffix}", (int(number) if number.is_integer() else number,), (excel,)
            )
        return Cell(str(value), (str(value),), ("@",))


def compute_table(spec: TableSpec, ctx: BuildContext) -> TableResult:
    result = TableEngine(spec, ctx).compute()
    if spec.n_pct_cells == 2:
        from trialdm.summaries.layout import n_and_pct_apart

        result = n_and_pct_apart(result, spec.pct_decimals, spec.pct_sign)
    return result


def listing_rows(
    spec: ListingSpec, ctx: BuildContext, limit: int | None = None
) -> Iterator[list[Any]]:
    """Stream the listing: rows come from the cursor in batches, converted one by one."""
    stmt = spec.query(ctx)
    if limit is not None:
        stmt = stmt.limit(limit)
    result = ctx.session.execute(stmt.execution_options(yield_per=2000))
    converters = [(i, c.convert) for i, c in enumerate(spec.columns) if c.convert]
    for number, raw in enumerate(result, start=1):
        if spec.shape is not None:
            yield spec.shape(raw, number, ctx)
            continue
        row = list(raw)
        for i, convert in converters:
            row[i] = convert(row[i], ctx)
        yield row


def indicator(condition: Any) -> Any:
    """A 0/1 column for ``count`` rows."""
    return case((condition, 1), else_=0)


def both(*conditions: Any) -> Any:
    return and_(*conditions)


__all__ = [
    "Cell",
    "ChartData",
    "Column",
    "Moments",
    "ResultRow",
    "Select",
    "TableEngine",
    "TableResult",
    "compute_table",
    "listing_rows",
    "pct_format",
]
