"""The aggregates of a spec: one GROUP BY for the columns and every additive
statistic (totals combined in Python), counts by value, and quartiles over the
values' frequencies.

- Sample SD (n-1) from the count, sum and sum of squares.
- Median and quartiles from the frequencies by (key, value) with a running count,
  interpolated like ``statistics.quantiles(method="inclusive")`` (numpy's
  default, Excel's QUARTILE.INC); SQLite has no median().
- Two columns or more counted by value or with quartiles: their frequencies from
  one statement (:mod:`.frequencies`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Float, Integer, case, cast, func, literal, select, union_all

from trialdm.summaries.engine import frequencies
from trialdm.summaries.engine.printing import Printer
from trialdm.summaries.engine.results import Column
from trialdm.summaries.engine.reuse import column_name, reused, shape_of
from trialdm.summaries.engine.temporary import population_of
from trialdm.summaries.engine.textual import COUNT, FLOAT, TextSelect
from trialdm.summaries.spec import CATEGORICAL, BuildContext, TableSpec

TOTAL = ("__total__",)
CONTINUOUS = ("mean_sd", "mean_sd_range", "mean_range", "median_iqr", "median_range")
ROWS = "*:rows"  # count(*) of a group, for the unlisted values of fixed categories


def disjoint(values: Sequence[Any]) -> bool:
    """Whether no row can equal two of these fixed categories: distinct values all
    text, or all numbers (not text and numbers, which SQLite's affinity may make
    equal). Then the rows of no listed value and not NULL are the group's rows less
    the listed and NULL ones, a subtraction instead of a NOT IN for every person."""
    kinds = {str if isinstance(value, str) else float for value in values}
    plain = all(isinstance(value, (str, int, float)) for value in values)
    return plain and len(kinds) <= 1 and len(set(values)) == len(values)


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


class SpecAggregates:
    """Runs the aggregates of one spec: the columns and the statistics the rows read."""

    def __init__(self, spec: TableSpec, ctx: BuildContext) -> None:
        self.spec = spec
        self.ctx = ctx
        self.session = ctx.session
        self.population = population_of(spec, ctx)
        self.keys = [self.population.c[name] for name in spec.group_by]
        self.printer = Printer(spec, ctx)
        self.columns: list[Column] = []
        self.missing_notes: list[str] = []
        # column name -> key -> value -> count, of the columns counted together
        self.frequencies: dict[str, dict[tuple, dict[Any, int]]] = {}
        # Categories that depend on the build (settings) are resolved once here.
        self.rows = [
            replace(row, categories=row.categories(ctx)) if callable(row.categories) else row
            for row in spec.rows
        ]

    # --- helpers

    def _key(self, row: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(row[: len(self.keys)]) if self.keys else TOTAL

    def _grouped_statement(
        self, *columns: Any, where: Any = None, extra_group: Sequence[Any] = ()
    ) -> Any:
        stmt = select(*self.keys, *extra_group, *columns).select_from(self.population)
        if where is not None:
            stmt = stmt.where(where)
        if self.keys or extra_group:
            stmt = stmt.group_by(*self.keys, *extra_group)
        return stmt

    def _grouped(self, *columns: Any, where: Any = None, extra_group: Sequence[Any] = ()) -> list:
        stmt = self._grouped_statement(*columns, where=where, extra_group=extra_group)
        return list(self.session.execute(stmt))

    @property
    def with_total(self) -> bool:
        return bool(self.keys) and self.spec.total

    def _all_keys(self) -> list[tuple[Any, ...]]:
        return [c.key for c in self.columns]

    # --- columns

    def _single_pass(self, sql: TextSelect) -> list[tuple[str, str]]:
        """Add to ``sql`` everything the rows need that one GROUP BY can give
        (counts, fixed categories, moments, values); (name, how totals combine) of
        each aggregate added."""
        found: list[tuple[str, str]] = []

        def add(name: str, how: str, aggregate: str, type_: Any) -> None:
            sql.add(aggregate, type_)
            found.append((name, how))

        for i, row in enumerate(self.rows):
            var = row.variable
            col = sql.column(var) if var else ""
            if row.stat == "count":
                add(f"{i}:sum", "sum", f"sum({col})", sql.type_of(var))
            elif row.stat == "share":
                add(f"{i}:sum", "sum", f"sum({col})", sql.type_of(var))
                den = row.denominator
                add(f"{i}:den", "sum", f"sum({sql.column(den)})", sql.type_of(den))
            elif row.stat in CATEGORICAL and row.categories is not None:
                # count(*) FILTER: the condition decides whether a row is counted at
                # all, cheaper per person than a sum of CASE values (SQLite 3.30+)
                values = [value for value, _ in row.categories]
                for j, value in enumerate(values):
                    filtered = f"count(*) FILTER (WHERE {sql.equals(var, value)})"
                    add(f"{i}:c{j}", "sum", filtered, COUNT)
                add(f"{i}:null", "sum", f"count(*) FILTER (WHERE {col} IS NULL)", COUNT)
                if disjoint(values):
                    # the rest of the rows (see load_columns): a NOT IN per person less
                    add(ROWS, "sum", "count(*)", COUNT)
                else:
                    listed = sql.listed(var, values)
                    unlisted = f"{col} IS NOT NULL AND ({col} NOT IN ({listed}))"
                    add(f"{i}:other", "sum", f"count(*) FILTER (WHERE {unlisted})", COUNT)
            elif row.stat in CONTINUOUS:
                x = f"CAST({col} AS FLOAT)"
                # count(x) is count(CAST(x)): a cast is NULL only of a NULL
                add(f"{i}:n", "sum", f"count({col})", COUNT)
                add(f"{i}:s", "fsum", f"sum({x})", FLOAT)
                add(f"{i}:q", "fsum", f"sum({x} * {x})", FLOAT)
                add(f"{i}:lo", "min", f"min({x})", FLOAT)
                add(f"{i}:hi", "max", f"max({x})", FLOAT)
            elif row.stat == "value":
                add(f"{i}:v", "min", f"min({col})", sql.type_of(var))
        return found

    def _unlisted(self) -> list[tuple[int, int]]:
        """(row index, number of categories) of the fixed-category rows whose unlisted
        values are counted as the rest of the group's rows (:func:`disjoint`)."""
        return [
            (i, len(row.categories))
            for i, row in enumerate(self.rows)
            if row.stat in CATEGORICAL
            and row.categories is not None
            and disjoint([value for value, _ in row.categories])
        ]

    def _rows_shape(self) -> tuple[Any, ...]:
        """What :meth:`_single_pass` reads of the rows (the key of its statement)."""
        shape = []
        for row in self.rows:
            categories = None
            if row.stat in CATEGORICAL and row.categories is not None:
                # with each value's type: 1 and True are equal keys, not equal binds
                categories = tuple((type(value), value) for value, _ in row.categories)
            shape.append((row.stat, row.variable, row.denominator, categories))
        return tuple(shape)

    def _columns_statement(self) -> tuple[Any, list[tuple[str, str]], int]:
        """The columns' statement (SQL text: :mod:`.textual`), the names of its
        aggregates and how each combines into the total, and the width of the key
        and label columns before them."""
        spec = self.spec
        sql = TextSelect(self.population, self.session.get_bind().dialect)
        for name in spec.group_by:
            sql.add(sql.column(name), sql.type_of(name))
        for name in spec.label_columns:
            sql.add(f"min({sql.column(name)})", sql.type_of(name))
        names = self._single_pass(sql)
        # n counts people: rows with a person id, when the population has one (a
        # focus group without members yet is a column with n = 0)
        sql.add(f"count({sql.column('pid')})" if "pid" in self.population.c else "count(*)", COUNT)
        order = [f"min({sql.column(name)})" for name in (spec.order_by or ())]
        keys = list(spec.group_by)
        stmt = sql.statement(keys, (order or [sql.column(name) for name in keys]) if keys else [])
        return stmt, names, len(self.keys) + len(spec.label_columns)

    def load_columns(self) -> None:
        """The columns and, in the same pass, every additive aggregate of the rows."""
        spec = self.spec
        shape = (
            "columns",
            self.session.get_bind().dialect.name,
            shape_of(self.population),
            tuple(spec.group_by),
            tuple(spec.label_columns),
            tuple(spec.order_by or ()),
            self._rows_shape(),
        )
        stmt, aggregates, width = reused(shape, self._columns_statement)
        columns: list[Column] = []
        heads: list[dict[str, Any]] = []
        grand = 0
        self.aggregates = {}
        total: dict[str, Any] = {}
        names = [name for name, _ in aggregates]
        unlisted = self._unlisted()
        if unlisted:
            aggregates = [*aggregates, *((f"{i}:other", "sum") for i, _ in unlisted)]
        for row in self.session.execute(stmt):
            n = int(row[-1] or 0)
            values = dict(zip(names, row[width:-1], strict=True))
            for i, count in unlisted:
                listed = sum(int(values[f"{i}:c{j}"] or 0) for j in range(count))
                rest = int(values[ROWS] or 0) - listed - int(values[f"{i}:null"] or 0)
                values[f"{i}:other"] = rest
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
            for name, how in aggregates:
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

    def load_frequencies(self) -> None:
        """The frequencies by (key, value) of every column that counts by value or has
        quartiles, from one statement when there are two such columns or more
        (:mod:`.frequencies`); with one, its counts by value (one GROUP BY, compiled in a
        fraction of the time of the quartiles' windows, and reading the same
        frequencies the windows would run over)."""
        names: list[str] = []
        for row in self.rows:
            if not row.variable:
                continue
            column = self.population.c[row.variable]
            wanted = (row.stat in CATEGORICAL and row.categories is None) or (
                row.stat.startswith("median") and frequencies.numeric(column)
            )
            if wanted and row.variable not in names:
                names.append(row.variable)
        if not names:
            return
        if len(names) == 1:
            self.frequencies = {names[0]: self.counts_by(self.population.c[names[0]])}
            return
        dialect = self.session.get_bind().dialect
        shape = (
            "frequencies",
            dialect.name,
            shape_of(self.population),
            tuple(self.spec.group_by),
            tuple(names),
        )
        stmt = reused(
            shape,
            lambda: frequencies.frequency_statement(self.population, self.keys, names, dialect),
        )
        total = TOTAL if self.with_total or not self.keys else None
        self.frequencies = frequencies.split(
            self.session.execute(stmt), len(self.keys), names, total
        )

    def counts_by(self, value: Any, where: Any = None) -> dict[tuple, dict[Any, int]]:
        """key -> value -> count (with the total column)."""
        name = column_name(self.population, value) if where is None else None
        if name in self.frequencies:
            return self.frequencies[name]
        found: dict[tuple, dict[Any, int]] = defaultdict(lambda: defaultdict(int))
        if name is None:
            rows = self._grouped(func.count(), where=where, extra_group=[value])
        else:
            shape = ("counts", shape_of(self.population), tuple(self.spec.group_by), name)
            stmt = reused(shape, lambda: self._grouped_statement(func.count(), extra_group=[value]))
            rows = list(self.session.execute(stmt))
        for row in rows:
            key = self._key(row)
            found[key][row[len(self.keys)]] += int(row[-1])
            if self.with_total:
                found[TOTAL][row[len(self.keys)]] += int(row[-1])
        return found

    def quartiles(self, value: Any) -> dict[tuple, tuple[float, float, float]]:
        """key -> (Q1, median, Q3), inclusive method, for the groups and the total, in
        one statement over the values' frequencies: the population is grouped by
        (key, value) once, a running count over those rows finds the value at each
        rank (the least value whose running count reaches it), and the total column
        reads the same frequencies summed per value. Windows run over the distinct
        values, not over every person (a score or an age has few of them)."""
        name = column_name(self.population, value)
        if name in self.frequencies:
            found = frequencies.quartiles_of(self.frequencies[name])
            if found is not None:
                return found
        if name is None:
            stmt = self._quartiles_statement(value)
        else:
            shape = (
                "quartiles",
                shape_of(self.population),
                tuple(self.spec.group_by),
                self.with_total,
                name,
            )
            stmt = reused(shape, lambda: self._quartiles_statement(value))
        result = {}
        width = 1 + len(self.keys)
        for row in self.session.execute(stmt):
            if not row[width]:
                continue
            key = tuple(row[1:width]) if row[0] == "g" and self.keys else TOTAL
            values = row[width + 1 :]
            qs = []
            for i in range(3):
                low, high, remainder = values[3 * i : 3 * i + 3]
                low = float(low)
                if remainder:
                    low = frequencies.interpolated(low, float(high), int(remainder))
                qs.append(low)
            result[key] = (qs[0], qs[1], qs[2])
        return result

    def _quartiles_statement(self, value: Any) -> Any:
        x = cast(value, Float)
        keys = self.keys
        freq = (
            select(
                *[k.label(f"k{i}") for i, k in enumerate(keys)],
                x.label("x"),
                func.count().label("c"),
            )
            .select_from(self.population)
            .where(value.is_not(None))
            # By the value as stored, first: the sort compares the value alone unless
            # two are equal (it is the most varied key and has no NULL), and casts
            # once per group. Values that cast to one number are rows of one x, which
            # the ranks below read as one.
            .group_by(value, *keys)
            .cte("freq")
        )
        fkeys = [freq.c[f"k{i}"] for i in range(len(keys))]

        def level(marker: str, source: Any, group_keys: list[Any]) -> Any:
            running = (
                select(
                    *group_keys,
                    source.c.x,
                    # sum() of counts is numeric on PostgreSQL: ranks are whole numbers
                    cast(
                        func.sum(source.c.c).over(
                            partition_by=group_keys or None, order_by=source.c.x, rows=(None, 0)
                        ),
                        Integer,
                    ).label("upto"),
                    cast(func.sum(source.c.c).over(partition_by=group_keys or None), Integer).label(
                        "cnt"
                    ),
                )
                .select_from(source)
                .subquery(f"running_{marker}")
            )
            upto, cnt = running.c.upto, running.c.cnt
            rkeys = [running.c[k.name] for k in group_keys]
            parts = []
            for k in (1, 2, 3):
                position = (cnt - 1) * k
                low_rank = position // 4 + 1
                parts += [
                    func.min(case((upto >= low_rank, running.c.x))),
                    func.min(case((upto >= low_rank + 1, running.c.x))),
                    func.max(position % 4),
                ]
            shown_keys = rkeys or [literal(None) for _ in fkeys]
            stmt = select(literal(marker), *shown_keys, func.max(cnt), *parts)
            return stmt.group_by(*rkeys) if rkeys else stmt

        stmt = level("g", freq, fkeys)
        if bool(keys) and self.with_total:
            summed = (
                select(freq.c.x, func.sum(freq.c.c).label("c"))
                .group_by(freq.c.x)
                .subquery("summed")
            )
            stmt = union_all(stmt, level("t", summed, []))
        return stmt
