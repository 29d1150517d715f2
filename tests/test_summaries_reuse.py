"""A table's statements over its population are built once per process for each
shape: a second computation builds none and prints the same table, a change of what
a statement is built from (a fixed category list) builds another one, and a
population that reads no site field does not join the sites."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import current_app

from tests.sql_helpers import recorded
from trialdm.core.scoping import all_sites
from trialdm.participants.vocabulary import diagnosis_vocabulary
from trialdm.summaries.engine import compute_table, frequencies, reuse
from trialdm.summaries.engine.aggregates import SpecAggregates
from trialdm.summaries.engine.temporary import drop_temporaries
from trialdm.summaries.registry import SHIPPED_TABLES, instrument_definitions, specs
from trialdm.summaries.spec import BuildContext
from trialdm.summaries.specfiles import build_spec, parse_table

INSTRUMENTS = Path(__file__).resolve().parent.parent / "instruments"
# a person without a recorded gender may be created (the Missing line)
NOTHING_ON_CREATION = """
[service_user]
on_creation = []
on_enrolment = ["consent_date", "consent_version", "arm"]
"""


def _context(session) -> BuildContext:
    return BuildContext(
        session=session,
        read_at=datetime(2026, 1, 1, tzinfo=UTC),
        diagnosis_vocabulary=diagnosis_vocabulary(current_app.config["DIAGNOSIS_VOCABULARY"]),
    )


def _compute(spec, session) -> dict[str, Any]:
    ctx = _context(session)
    try:
        with all_sites():
            return compute_table(spec, ctx).as_json()
    finally:
        drop_temporaries(ctx)


def _people(make_participant, trial_minimum_record) -> None:
    trial_minimum_record(NOTHING_ON_CREATION)
    codes = iter([["F20"], ["F20", "F32"], [], ["F33"]])
    for site, gender, arm in (
        ("BU", "female", "intervention"),
        ("BU", "male", "control"),
        ("DS", "diverse", "intervention"),
        ("DS", None, "control"),
    ):
        make_participant(
            site,
            enrolment_date=date(2025, 3, 1),
            gender=gender,
            arm=arm,
            diagnoses=[{"code": c} for c in next(codes)],
        )


def _lines(table: dict[str, Any], heading: str) -> dict[str, list[str]]:
    """The printed lines under one heading: label -> cells."""
    found: dict[str, list[str]] = {}
    current = None
    for row in table["rows"]:
        if row["kind"] in ("heading", "stat"):
            current = row["label"]
        elif current == heading:
            found[row["label"]] = [c["text"] for c in row["cells"]]
    return found


def test_a_second_computation_builds_no_statement_and_prints_the_same(
    app, db_session, make_participant, trial_minimum_record, monkeypatch
):
    _people(make_participant, trial_minimum_record)
    reuse._built.clear()
    built: list[str] = []
    for owner, name in (
        (SpecAggregates, "_columns_statement"),
        (frequencies, "frequency_statement"),
    ):
        method = getattr(owner, name)

        def counting(*args, _method=method, _name=name):
            built.append(_name)
            return _method(*args)

        monkeypatch.setattr(owner, name, counting)
    spec = specs()["baseline_characteristics"]
    first = _compute(spec, db_session)
    assert sorted(built) == ["_columns_statement", "frequency_statement"]
    with recorded() as sent:
        second = _compute(spec, db_session)
    assert len(built) == 2  # nothing built again
    assert second == first
    assert any("FROM summary_baseline_characteristics" in sql for sql, _ in sent)


def test_other_fixed_categories_are_another_statement(
    app, db_session, make_participant, trial_minimum_record
):
    """The same table with a shorter list of genders: its single pass is built anew,
    so the genders left out are counted under 'Other', not as the first list's."""
    _people(make_participant, trial_minimum_record)
    spec = specs()["baseline_characteristics"]
    index, row = next((i, r) for i, r in enumerate(spec.rows) if r.variable == "gender")
    assert row.categories is not None and not callable(row.categories)
    first = _lines(_compute(spec, db_session), row.label)
    shorter = replace(row, categories=(("female", "Female"),), other_label="Not female")
    rows = [*spec.rows]
    rows[index] = shorter
    second = _lines(_compute(replace(spec, rows=rows), db_session), row.label)
    assert first["Male"][-1].startswith("1 ")
    assert "Male" not in second
    # male and diverse: two people outside the list, across all columns
    assert second["Not female"][-1].startswith("2 ")
    assert second["Female"] == first["Female"]
    assert second["Missing"] == first["Missing"]


@pytest.mark.parametrize("by_site", [True, False])
def test_a_population_joins_the_sites_only_to_read_a_site_field(
    app, db_session, make_participant, trial_minimum_record, by_site
):
    _people(make_participant, trial_minimum_record)
    text = (SHIPPED_TABLES / "baseline_characteristics.toml").read_text()
    if not by_site:
        text = text.replace('by = ["site", "arm"]', 'by = ["arm"]')
        text = text.replace('headers = ["{site_name}, {site_country} ({site})", "{arm}"]', "")
    spec = build_spec(
        parse_table(tomllib.loads(text), "t.toml", instrument_definitions(str(INSTRUMENTS)))
    )
    with recorded() as sent:
        table = _compute(spec, db_session)
    written = [sql for sql, _ in sent if sql.startswith("INSERT INTO summary_")]
    assert len(written) == 1
    assert ("JOIN sites" in written[0]) is by_site
    n = next(r for r in table["rows"] if r["label"] == "N")
    assert n["cells"][-1]["values"][0] == 4
    diagnoses = _lines(table, "Diagnoses, n (%) of participants")
    assert diagnoses["None recorded"][-1].startswith("1 ")


def test_unlisted_values_as_the_rest_of_the_rows_are_the_not_in_count(
    app, db_session, make_participant, trial_minimum_record, monkeypatch
):
    """Fixed categories that no row can match twice count the unlisted values as the
    group's rows less the listed and missing ones, with no NOT IN in the statement;
    the table is the one the NOT IN count prints."""
    from trialdm.summaries.engine import aggregates

    _people(make_participant, trial_minimum_record)
    spec = specs()["baseline_characteristics"]
    index, row = next((i, r) for i, r in enumerate(spec.rows) if r.variable == "gender")
    rows = [*spec.rows]
    rows[index] = replace(row, categories=(("female", "Female"),), other_label="Not female")
    shorter = replace(spec, rows=rows)
    with recorded() as sent:
        subtracted = _compute(shorter, db_session)
    assert not any("NOT IN (" in sql for sql, _ in sent)
    monkeypatch.setattr(aggregates, "disjoint", lambda values: False)
    reuse._built.clear()
    with recorded() as sent:
        counted = _compute(shorter, db_session)
    assert any("NOT IN (" in sql for sql, _ in sent)
    assert subtracted == counted
    assert _lines(subtracted, row.label)["Not female"][-1].startswith("2 ")


def test_categories_a_row_may_match_twice_are_not_disjoint() -> None:
    from trialdm.summaries.engine.aggregates import disjoint

    assert disjoint(["female", "male"]) and disjoint([1, 2.5]) and disjoint([])
    assert not disjoint(["a", "a"])
    assert not disjoint([1, True])  # equal in SQL as in Python
    assert not disjoint(["1", 1])  # text and number: SQLite's affinity may make them equal
    assert not disjoint([None, "x"])  # IS NULL is the missing count's


def test_the_single_pass_and_the_frequencies_are_sql_text(
    app, db_session, make_participant, trial_minimum_record
):
    """A table's single pass and its frequencies of several columns are sent as SQL
    text with typed result columns (a fresh process compiles a text in a fraction of
    the time of the expressions): their values read back typed as the columns they
    aggregate (counts as whole numbers, sums of floats as floats)."""
    from sqlalchemy.sql.selectable import TextualSelect

    _people(make_participant, trial_minimum_record)
    reuse._built.clear()
    table = _compute(specs()["baseline_characteristics"], db_session)
    kept = {key[0]: statement for key, statement in reuse._built.items()}
    assert isinstance(kept["columns"][0], TextualSelect)
    assert isinstance(kept["frequencies"], TextualSelect)
    n = next(r for r in table["rows"] if r["label"] == "N")
    assert [c["values"][0] for c in n["cells"]] == [1, 1, 1, 1, 4]
    assert all(type(c["values"][0]) is int for c in n["cells"])
