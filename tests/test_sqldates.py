"""The one SQL add_months: a whole number or an integer column, on either backend,
clamped to the month's end as relativedelta does."""

from __future__ import annotations

from datetime import date

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import Date, Integer, cast, literal, select, union_all

from trialdm.core.sqldates import add_months

STARTS = [date(2025, 8, 31), date(2023, 8, 31), date(2024, 2, 29), date(2025, 1, 15)]
MONTHS = [-13, -1, 0, 4, 6, 18]


@pytest.mark.parametrize("start", STARTS)
def test_whole_months_including_backwards(app, db_session, start):
    value = literal(start, Date)
    got = db_session.execute(select(*(add_months(value, n) for n in MONTHS))).one()
    assert list(got) == [start + relativedelta(months=n) for n in MONTHS]


def test_months_from_a_column(app, db_session):
    table = union_all(*[select(cast(literal(n), Integer).label("months")) for n in MONTHS])
    table = table.subquery("offsets")
    start = date(2025, 10, 31)
    got = db_session.execute(
        select(table.c.months, add_months(literal(start, Date), table.c.months))
    ).all()
    assert dict(got) == {n: start + relativedelta(months=n) for n in MONTHS}


def test_months_must_be_whole_numbers_or_columns():
    with pytest.raises(TypeError):
        add_months(literal(date(2025, 1, 1), Date), 1.5)  # type: ignore[arg-type]
