"""Date arithmetic in SQL that behaves the same on SQLite and PostgreSQL, for
set-based queries (fidelity, windows) that must not fall back to Python per row.

* :func:`add_months` adds calendar months and clamps to the end of a shorter month,
  as ``dateutil.relativedelta`` and PostgreSQL's ``interval`` do: 31 August + 6
  months is 28 (or 29) February. SQLite's ``date(x, '+6 months')`` would overflow
  into March, so its rendering falls back to "last day of the target month".
* :func:`days_between` is ``later - earlier`` in whole days.
* :func:`utc_date` is the UTC calendar date of a stored moment.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Date, Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal


class add_months(FunctionElement):
    type = Date()
    inherit_cache = True
    name = "add_months"
    # months is rendered into the SQL, so it is part of the statement cache key
    _traverse_internals = [
        *FunctionElement._traverse_internals,
        ("months", InternalTraversal.dp_plain_obj),
    ]

    def __init__(self, value: ColumnElement[Any], months: int) -> None:
        if not isinstance(months, int):
            raise TypeError("months must be an int (it is rendered into the SQL)")
        self.months = months
        super().__init__(value)


@compiles(add_months)
def _add_months_default(element: add_months, compiler, **kw) -> str:
    value = compiler.process(next(iter(element.clauses)), **kw)
    return f"CAST(({value}) + INTERVAL '{element.months} months' AS DATE)"


@compiles(add_months, "sqlite")
def _add_months_sqlite(element: add_months, compiler, **kw) -> str:
    value = compiler.process(next(iter(element.clauses)), **kw)
    n = element.months
    shifted = f"date({value}, '{n:+d} months')"
    month_end = f"date({value}, 'start of month', '{n + 1:+d} months', '-1 day')"
    # Days up to the 28th exist in every month: one date() call for most dates (ISO
    # text, so the day is characters 9-10), the overflow test only for the rest.
    return (
        f"(CASE WHEN substr({value}, 9, 2) <= '28' THEN {shifted} "
        f"WHEN strftime('%d', {shifted}) = strftime('%d', {value}) "
        f"THEN {shifted} ELSE {month_end} END)"
    )


class days_between(FunctionElement):
    """``later - earlier`` in days (negative when ``later`` is earlier)."""

    type = Integer()
    inherit_cache = True
    name = "days_between"

    def __init__(self, earlier: ColumnElement[Any], later: ColumnElement[Any]) -> None:
        super().__init__(earlier, later)


@compiles(days_between)
def _days_between_default(element: days_between, compiler, **kw) -> str:
    earlier, later = (compiler.process(c, **kw) for c in element.clauses)
    return f"(CAST({later} AS DATE) - CAST({earlier} AS DATE))"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element: days_between, compiler, **kw) -> str:
    earlier, later = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"


class utc_date(FunctionElement):
    """The calendar date, in UTC, of a moment stored by ``UTCDateTime``."""

    type = Date()
    inherit_cache = True
    name = "utc_date"

    def __init__(self, moment: ColumnElement[Any]) -> None:
        super().__init__(moment)


@compiles(utc_date)
def _utc_date_default(element: utc_date, compiler, **kw) -> str:
    value = compiler.process(next(iter(element.clauses)), **kw)
    return f"CAST(({value}) AT TIME ZONE 'UTC' AS DATE)"


@compiles(utc_date, "sqlite")
def _utc_date_sqlite(element: utc_date, compiler, **kw) -> str:
    # UTCDateTime keeps UTC text on SQLite ("2025-01-02 09:30:00.000000")
    value = compiler.process(next(iter(element.clauses)), **kw)
    return f"date({value})"
