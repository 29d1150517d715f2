"""Date arithmetic in SQL that behaves the same on SQLite and PostgreSQL, for
set-based queries (fidelity, windows) that must not fall back to Python per row.

* :func:`add_months` adds calendar months and clamps to the end of a shorter month,
  as ``dateutil.relativedelta`` and PostgreSQL's ``interval`` do: 31 August + 6
  months is 28 (or 29) February. SQLite's ``date(x, '+6 months')`` would overflow
  into March, so its rendering clamps to the last day of the target month.
* :func:`days_between` is ``later - earlier`` in whole days.
* :func:`utc_date` is the UTC calendar date of a stored moment.
* :func:`year_of` is the calendar year of a date.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Date, Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement, literal_column


class add_months(FunctionElement):
    """``value + months`` calendar months, clamped to the end of a shorter month.
    ``months`` is a whole number (rendered into the SQL) or an integer column."""

    type = Date()
    inherit_cache = True
    name = "add_months"

    def __init__(self, value: ColumnElement[Any], months: int | ColumnElement[Any]) -> None:
        if isinstance(months, int) and not isinstance(months, bool):
            months = literal_column(str(months), Integer())
        elif not isinstance(months, ColumnElement):
            raise TypeError("months must be an int or an integer column")
        super().__init__(value, months)


@compiles(add_months)
def _add_months_default(element: add_months, compiler, **kw) -> str:
    value, months = (compiler.process(c, **kw) for c in element.clauses)
    # date + interval is a timestamp; PostgreSQL clamps to the month end itself.
    return f"CAST(({value} + make_interval(months => {months})) AS DATE)"


def _whole_months(clause: Any) -> int | None:
    """The number of months when it was given as a whole number (rendered literally)."""
    text = getattr(clause, "text", None) if getattr(clause, "is_literal", False) else None
    if text is not None and text.lstrip("-").isdigit():
        return int(text)
    return None


@compiles(add_months, "sqlite")
def _add_months_sqlite(element: add_months, compiler, **kw) -> str:
    value_clause, months_clause = element.clauses
    value = compiler.process(value_clause, **kw)
    n = _whole_months(months_clause)
    if n is not None:
        shifted = f"date({value}, '{n:+d} months')"
        month_end = f"date({value}, 'start of month', '{n + 1:+d} months', '-1 day')"
        # Days up to the 28th exist in every month: one date() call for most dates (ISO
        # text, so the day is characters 9-10), the overflow test only for the rest.
        return (
            f"(CASE WHEN substr({value}, 9, 2) <= '28' THEN {shifted} "
            f"WHEN strftime('%d', {shifted}) = strftime('%d', {value}) "
            f"THEN {shifted} ELSE {month_end} END)"
        )
    months = compiler.process(months_clause, **kw)
    # SQLite rolls 31 Oct + 4 months over into March: start from the first of the
    # target month, add the day, and keep the smaller of that and the month's end.
    first = f"date({value}, 'start of month', printf('%+d months', {months}))"
    return (
        f"min(date({first}, printf('%+d days', CAST(strftime('%d', {value}) AS INTEGER) - 1)), "
        f"date({first}, '+1 month', '-1 day'))"
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


class year_of(FunctionElement):
    """The calendar year of a date, as an integer."""

    type = Integer()
    inherit_cache = True
    name = "year_of"


@compiles(year_of)
def _year_of_default(element: year_of, compiler, **kw) -> str:
    (value,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(EXTRACT(YEAR FROM {value}) AS INTEGER)"


@compiles(year_of, "sqlite")
def _year_of_sqlite(element: year_of, compiler, **kw) -> str:
    # Dates are stored as ISO text (YYYY-MM-DD): the year is its first four digits,
    # read without strftime's parse of the whole date (the cost of a summary's
    # derived age, evaluated for every person in every statement).
    (value,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(substr({value}, 1, 4) AS INTEGER)"
