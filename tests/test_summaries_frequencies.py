"""Counts by value and quartiles of several columns from one statement: the table
prints what the statement of each column printed, with fewer statements."""

from __future__ import annotations

import random
import statistics
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import current_app

from tests.sql_helpers import recorded
from trialdm.core.scoping import all_sites
from trialdm.participants.vocabulary import diagnosis_vocabulary
from trialdm.summaries.engine import compute_table, reuse
from trialdm.summaries.engine.aggregates import SpecAggregates
from trialdm.summaries.engine.frequencies import quartiles_of
from trialdm.summaries.engine.temporary import drop_temporaries
from trialdm.summaries.registry import specs
from trialdm.summaries.spec import BuildContext

OCCUPATIONS = ["employed", "unemployed", "student", None]
MARITAL = ["unmarried", "married", "divorced", None]


def _compute(spec, session) -> tuple[dict[str, Any], int]:
    """The table and the number of statements that read its population."""
    ctx = BuildContext(
        session=session,
        read_at=datetime(2026, 1, 1, tzinfo=UTC),
        diagnosis_vocabulary=diagnosis_vocabulary(current_app.config["DIAGNOSIS_VOCABULARY"]),
    )
    try:
        with all_sites(), recorded() as sent:
            table = compute_table(spec, ctx).as_json()
        reads = [sql for sql, _ in sent if sql.lstrip().startswith(("SELECT", "WITH"))]
        return table, sum(" summary_" in sql for sql in reads)
    finally:
        drop_temporaries(ctx)


def _random_people(make_participant, rng: random.Random, *, several: bool) -> None:
    """5-25 people at each of three sites with random ages and arms; with ``several``,
    random years of illness (decimals), occupations and marital statuses too."""
    for site in ("BU", "DS", "PU"):
        for _ in range(rng.randint(5, 25)):
            fields: dict[str, Any] = {"age": rng.choice([19, 25, 25, 31, 40, 40, 40, 58])}
            if several:
                fields["years_of_illness"] = rng.choice([None, 0.5, 1.2, 3.3, 3.3, 12.1, 20.0])
                fields["occupation"] = rng.choice(OCCUPATIONS)
                fields["marital_status"] = rng.choice(MARITAL)
            fields["arm"] = rng.choice(["intervention", "control"])
            make_participant(site, enrolment_date=date(2025, 5, 1), year_of_birth=None, **fields)


def _several(spec):
    """The baseline table with two more columns counted by value: marital status
    without its fixed list and the years of illness's median (a decimal)."""
    rows = list(spec.rows)
    marital = next(i for i, r in enumerate(rows) if r.variable == "marital_status")
    rows[marital] = replace(rows[marital], categories=None)
    median = next(r for r in rows if r.stat == "median_iqr")
    rows.append(
        replace(median, label="Years of illness, median (IQR)", variable="years_of_illness")
    )
    return replace(spec, rows=tuple(rows))


@pytest.mark.parametrize("by", [("site", "arm"), ()])
def test_frequencies_of_several_columns_print_what_a_statement_each_printed(
    app, db_session, make_participant, monkeypatch, by
):
    _random_people(make_participant, random.Random(20261201), several=True)
    spec = _several(specs()["baseline_characteristics"])
    if not by:
        spec = replace(spec, group_by=(), label_columns=(), column_labels=None, order_by=None)
    reuse._built.clear()
    together, fewer = _compute(spec, db_session)
    monkeypatch.setattr(SpecAggregates, "load_frequencies", lambda self: None)
    reuse._built.clear()
    apart, more = _compute(spec, db_session)
    assert together == apart
    # four statements (two counts by value, two quartiles) became one
    assert more - fewer == 3
    cells = {r["label"]: r["cells"] for r in together["rows"]}
    assert cells["Years of illness, median (IQR)"][-1]["values"][0] is not None


def test_quartiles_from_frequencies_are_the_inclusive_quartiles() -> None:
    rng = random.Random(7)
    for size in (1, 2, 3, 4, 5, 8, 13, 40):
        values = [rng.choice([1, 2, 2, 3, 5.5, Decimal("7.1"), 9]) for _ in range(size)]
        counts: dict[Any, int] = {None: 3}
        for value in values:
            counts[value] = counts.get(value, 0) + 1
        q1, median, q3 = quartiles_of({("k",): counts})[("k",)]
        floats = [float(v) for v in values]
        if size == 1:
            assert (q1, median, q3) == (floats[0],) * 3
            continue
        expected = statistics.quantiles(floats, n=4, method="inclusive")
        assert (q1, median, q3) == pytest.approx(tuple(expected), rel=1e-12)


def test_quartiles_of_values_not_numbers_are_left_to_the_statement() -> None:
    assert quartiles_of({("k",): {"3": 1, 4: 2}}) is None
    assert quartiles_of({("k",): {True: 1}}) is None
    assert quartiles_of({("k",): {None: 4}}) == {}


@pytest.mark.parametrize("by", [("site", "arm"), ()])
def test_quartiles_of_one_column_are_read_from_its_counts_by_value(
    app, db_session, make_participant, monkeypatch, by
):
    """A table with one median column (and nothing counted by value) reads the quartiles
    from that column's counts by value instead of the windows' statement: the same
    table, as many statements."""
    _random_people(make_participant, random.Random(20261202), several=False)
    spec = specs()["baseline_characteristics"]
    rows = tuple(r for r in spec.rows if r.stat.startswith("median") or r.categories is not None)
    assert sum(r.stat.startswith("median") for r in rows) == 1
    spec = replace(spec, rows=rows)
    if not by:
        spec = replace(spec, group_by=(), label_columns=(), column_labels=None, order_by=None)
    reuse._built.clear()
    with recorded() as sent_counts:
        from_counts, statements = _compute(spec, db_session)
    monkeypatch.setattr(SpecAggregates, "load_frequencies", lambda self: None)
    reuse._built.clear()
    with recorded() as sent_windows:
        from_windows, same = _compute(spec, db_session)
    assert from_counts == from_windows
    assert statements == same
    assert not any(" OVER " in sql for sql, _ in sent_counts)
    assert any(" OVER " in sql for sql, _ in sent_windows)
    median = next(r for r in from_counts["rows"] if "median" in r["label"].lower())
    assert median["cells"][-1]["values"][0] is not None
