"""Compute a :class:`~trialdm.summaries.spec.TableSpec` with SQL aggregation.

Every statistic is a GROUP BY in the database over the spec's population (a
subquery of ORM entities, so the central site filter applies); Python only
combines the handful of per-group rows (totals of additive sums) and prints.
The number of queries depends on the spec, never on the number of people.

- :mod:`.results`: the computed table (cells, columns, rows) as it is printed;
- :mod:`.printing`: how numbers print (rounding, n (%), breakdowns, formats);
- :mod:`.aggregates`: the SQL aggregates of a spec (columns, moments, quartiles);
- :mod:`.rows`: each spec row's lines, then small-cell suppression.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Select, and_, case

from trialdm.summaries.engine.aggregates import CONTINUOUS, TOTAL, Moments
from trialdm.summaries.engine.printing import (
    Printer,
    breakdown_text,
    fmt,
    long_date,
    number_format,
    pct_format,
    plain,
    rounded,
)
from trialdm.summaries.engine.results import Cell, ChartData, Column, ResultRow, TableResult
from trialdm.summaries.engine.rows import STAT_NAMES, TableEngine
from trialdm.summaries.spec import BuildContext, ListingSpec, TableSpec


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
    "CONTINUOUS",
    "STAT_NAMES",
    "TOTAL",
    "Cell",
    "ChartData",
    "Column",
    "Moments",
    "Printer",
    "ResultRow",
    "Select",
    "TableEngine",
    "TableResult",
    "both",
    "breakdown_text",
    "compute_table",
    "fmt",
    "indicator",
    "listing_rows",
    "long_date",
    "number_format",
    "pct_format",
    "plain",
    "rounded",
]
