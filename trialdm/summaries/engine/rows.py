"""The rows of a computed table: each spec row's lines, printed, with missing
values as a line, a line when any, or a footnote, never silently dropped; then
small-cell suppression over the whole table and the header N."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from trialdm.core.errors import N_
from trialdm.summaries.engine.aggregates import TOTAL, Moments, SpecAggregates
from trialdm.summaries.engine.printing import (
    breakdown_text,
    fmt,
    long_date,
    number_format,
    plain,
)
from trialdm.summaries.engine.results import Cell, ResultRow, TableResult
from trialdm.summaries.engine.reuse import reused, shape_of, statement_key
from trialdm.summaries.spec import CATEGORICAL, Row
from trialdm.summaries.suppression import suppress_small_cells

# What each value of a continuous cell is, in the order of Cell.values.
STAT_NAMES = {
    "mean_sd": ("mean", "SD"),
    "mean_sd_range": ("mean", "SD", "minimum", "maximum"),
    "mean_range": ("mean", "minimum", "maximum"),
    "median_iqr": ("median", "Q1", "Q3"),
    "median_range": ("median", "minimum", "maximum"),
}


class TableEngine(SpecAggregates):
    """Computes one spec into a :class:`TableResult`."""

    def compute(self, chart: bool = True) -> TableResult:
        """The table; without its chart (``chart=False``) when only the statements
        matter (:mod:`trialdm.summaries.startup`)."""
        self.load_columns()
        self.load_frequencies()
        rows: list[ResultRow] = []
        for index, row in enumerate(self.rows):
            for line in self.row(index, row):
                line.block, line.stat = index, row.stat
                rows.append(line)
        drawn = self.spec.chart(self.ctx) if self.spec.chart and chart else None
        result = TableResult(
            name=self.spec.name,
            title=self.spec.title,
            corner=self.spec.corner,
            columns=self.columns,
            rows=rows,
            footnotes=[*self.spec.footnotes, *self.missing_notes],
            listing=self.spec.listing,
            chart=drawn,
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
        elif row.stat in CATEGORICAL:
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
                row.other_label or N_("Other (not in the list)"),
                "category",
                [p.n_pct(unlisted.get(k, 0), bases[k]) for k in keys],
            )
        yield from self._missing(row, row.missing_label or N_("Missing"), missing, sizes)

    def _multi(self, row, keys, sizes) -> Iterator[ResultRow]:
        p = self.printer
        found = self.spec.multi[row.source or row.variable or ""](self.ctx)
        known = statement_key(found)
        if known is None:
            stmt = self._multi_statement(found)
        else:
            shape = ("multi", shape_of(self.population), tuple(self.spec.group_by), known)
            stmt = reused(shape, lambda: self._multi_statement(found))
        counts: dict[tuple, dict[Any, int]] = defaultdict(lambda: defaultdict(int))
        none: dict[tuple, int] = defaultdict(int)
        width = len(self.keys)
        for r in self.session.execute(stmt):
            key, having, without = self._key(r), int(r[-2]), int(r[-1])
            keys_of_row = (key, TOTAL) if self.with_total else (key,)
            for k in keys_of_row:
                if having:
                    counts[k][r[width]] += having
                if without:
                    none[k] += without
        yield ResultRow(row.label, "heading", [Cell("") for _ in keys])
        bases = self._denominators(sizes, none)
        for value, label in self._labels(row, counts):
            yield ResultRow(
                label,
                "category",
                [p.n_pct(counts.get(k, {}).get(value, 0), bases[k]) for k in keys],
            )
        yield from self._missing(row, row.missing_label or N_("None recorded"), none, sizes)

    def _multi_statement(self, found: Any) -> Any:
        """People by value of a multi-valued variable (``found``: its (pid, value) rows)."""
        source = found.subquery("multi")
        pid = self.population.c.pid
        # One pass: people with values by value, and (outer join, no match) the
        # people without any, who are the 'None recorded' line. Whether a person
        # matched is a filter of the counts, not a key of the groups: one key fewer
        # to sort every person by.
        return (
            select(
                *self.keys,
                source.c.value,
                func.count(func.distinct(pid)).filter(source.c.pid.is_not(None)),
                func.count(func.distinct(pid)).filter(source.c.pid.is_(None)),
            )
            .select_from(self.population.outerjoin(source, source.c.pid == pid))
            .group_by(*self.keys, source.c.value)
        )

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
        yield from self._missing(row, row.missing_label or N_("Missing"), missing, sizes)

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
