"""Summary tables against published references and Python's statistics module."""

from __future__ import annotations

import csv
import json
import random
import statistics
from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import current_app

from tests.summaries_fixtures import load_shanghai
from trialdm.core.scoping import SiteScope, scoped_to
from trialdm.participants.vocabulary import diagnosis_vocabulary
from trialdm.summaries.engine import compute_table, listing_rows
from trialdm.summaries.registry import specs
from trialdm.summaries.spec import BuildContext


def spec(name: str):
    return specs()[name]


def context(session, suppress_below: int = 0) -> BuildContext:
    return BuildContext(
        session=session,
        read_at=datetime(2026, 1, 1, tzinfo=UTC),
        suppress_below=suppress_below,
        diagnosis_vocabulary=diagnosis_vocabulary(current_app.config["DIAGNOSIS_VOCABULARY"]),
    )


def rows_by_label(table, after: str | None = None) -> dict[str, list[dict]]:
    """label -> cells; category lines are looked up under their heading."""
    found: dict[str, list[dict]] = {}
    heading = None
    for row in table["rows"]:
        if row["kind"] in ("heading", "stat"):
            heading = row["label"]
        if row["kind"] == "heading":
            continue
        name = (
            f"{heading} / {row['label']}"
            if row["kind"] in ("category", "missing")
            else row["label"]
        )
        found[name] = row["cells"]
    return found


def test_shanghai_table2_reproduces(app, db_session, reference_dir):
    expected = json.loads((reference_dir / "shanghai_table2_expected.json").read_text())
    load_shanghai(reference_dir, "PU")
    ctx = context(db_session)
    with scoped_to(SiteScope(codes=frozenset({"PU"}))):
        table = compute_table(spec("participant_listing"), ctx).as_json()
        listing = list(listing_rows(spec("participant_listing").listing, ctx))
    rows = rows_by_label(table)
    assert rows["N"][0]["values"] == [expected["n"]]
    age = rows["Age in years, mean (SD; range)"][0]
    assert age["text"] == expected["age_years"]["printed"]
    assert round(age["values"][0], 1) == expected["age_years"]["mean"]
    care = rows["Years in care, mean (SD; range)"][0]
    assert care["text"] == expected["years_in_daycare"]["printed"]
    for variable, heading in (
        ("gender", "Gender, n (%)"),
        ("marital_status", "Marital status, n (%)"),
    ):
        for value, figures in expected[variable].items():
            label = value.capitalize()
            cell = rows[f"{heading} / {label}"][0]
            assert cell["text"] == f"{figures['n']} ({figures['pct']}%)"
            assert cell["values"][0] == figures["n"]
    # the listing, as printed: P1/M labels, the study's diagnosis words, whole years,
    # the band (P8 is 36-40, not the misprint)
    published = list(csv.DictReader((reference_dir / "shanghai_table2_participants.csv").open()))
    assert len(listing) == 14
    header = [c.label for c in spec("participant_listing").listing.columns]
    assert header[0] == "Participant"
    occupations = {"part_time_volunteer": "Part-time volunteer", "unemployed": "Unemployed",
                   "retired": "Retired"}  # fmt: skip
    for line, person in zip(listing, published, strict=True):
        printed = dict(zip(header, line, strict=True))
        assert printed["Participant"] == f"{person['pseudonym']}/{person['gender'][0].upper()}"
        assert printed["Diagnosis"] == person["diagnosis"]
        assert printed["Marital status"] == person["marital_status"].capitalize()
        assert printed["Occupation"] == occupations[person["occupation"]]
        assert printed["Years in care"] == int(person["years_in_daycare"])
        assert str(printed["Years of illness"]) == person["years_of_illness"]
        if person["pseudonym"] == "P8":
            assert printed["Age band"] == "36-40" != person["age_band_published"]
        else:
            assert printed["Age band"] == person["age_band_published"]
    assert rows["Diagnosis, n (%) of participants / Schizophrenia"][0]["text"] == "10 (71.4%)"


def test_statistics_agree_with_python_on_random_data(app, db_session, make_participant):
    rng = random.Random(20261123)
    ages: dict[str, list[int]] = {"BU": [], "DS": []}
    illness: dict[str, list[float]] = {"BU": [], "DS": []}
    for site in ages:
        for _ in range(rng.randint(15, 40)):
            age = rng.randint(18, 60)
            years = round(rng.uniform(0, 30), 1) if rng.random() > 0.2 else None
            make_participant(
                site,
                enrolment_date=date(2025, 5, 1),
                year_of_birth=None,
                age=age,
                years_of_illness=years,
                arm="intervention",
            )
            ages[site].append(age)
            if years is not None:
                illness[site].append(years)
    table = compute_table(spec("baseline_characteristics"), context(db_session))
    data = table.as_json()
    keys = [c["key"][0] for c in data["columns"]]
    rows = {r["label"]: r["cells"] for r in data["rows"] if r["kind"] == "stat"}
    samples = {site: ages[site] for site in ages}
    samples["__total__"] = ages["BU"] + ages["DS"]
    for index, key in enumerate(keys):
        values = samples[key]
        mean, sd = rows["Age in years, mean (SD)"][index]["values"]
        assert mean == pytest.approx(statistics.fmean(values), rel=1e-12)
        assert sd == pytest.approx(statistics.stdev(values), rel=1e-9)
        median, q1, q3 = rows["Age in years, median (IQR)"][index]["values"]
        quartiles = statistics.quantiles(values, n=4, method="inclusive")
        assert median == pytest.approx(statistics.median(values))
        assert (q1, q3) == pytest.approx((quartiles[0], quartiles[2]))
    illness_rows = [r for r in data["rows"]]
    position = next(
        i for i, r in enumerate(illness_rows) if r["label"] == "Years of illness, mean (SD)"
    )
    missing = illness_rows[position + 1]
    assert missing["kind"] == "missing"
    bu = keys.index("BU")
    assert missing["cells"][bu]["values"][0] == len(ages["BU"]) - len(illness["BU"])
    mean, sd = illness_rows[position]["cells"][bu]["values"]
    assert mean == pytest.approx(statistics.fmean(illness["BU"]))
    assert sd == pytest.approx(statistics.stdev(illness["BU"]))


# A trial whose minimum record leaves gender optional: its tables count it as missing.
WITHOUT_GENDER = """
[service_user]
on_creation = [["year_of_birth", "age"]]
on_enrolment = ["consent_date", "consent_version", "arm"]
"""


def test_baseline_counts_diagnoses_per_person_and_missing(
    app, db_session, make_participant, trial_minimum_record
):
    trial_minimum_record(WITHOUT_GENDER)
    enrolled = date(2025, 5, 1)
    make_participant(
        "BU", enrolment_date=enrolled, gender="female", diagnoses=[{"code": "F20"}, {"code": "F32"}]
    )
    make_participant("BU", enrolment_date=enrolled, gender=None, diagnoses=[{"code": "F20"}])
    make_participant("BU", enrolment_date=enrolled, arm="control", gender="male")
    make_participant("ULM", enrolment_date=enrolled, gender="male")
    with scoped_to(SiteScope(codes=frozenset({"BU"}))):
        data = compute_table(spec("baseline_characteristics"), context(db_session)).as_json()
    labels = [(c["group"], c["label"]) for c in data["columns"]]
    assert labels == [
        ("Butabika, Uganda (BU)", "Usual care"),
        ("Butabika, Uganda (BU)", "Peer support"),
        (None, "Total"),
    ]
    rows = rows_by_label(data)
    assert rows["N"][2]["text"] == "3"
    assert rows["Gender, n (%) / Missing"][1]["text"] == "1 (50.0%)"
    assert rows["Diagnoses, n (%) of participants / Schizophrenia"][1]["text"] == "2 (100.0%)"
    assert rows["Diagnoses, n (%) of participants / Depressive episode"][2]["text"] == "1 (33.3%)"
    assert rows["Diagnoses, n (%) of participants / None recorded"][0]["text"] == "1 (100.0%)"


def test_small_counts_are_suppressed_when_set(app, db_session, make_participant):
    for _ in range(3):
        make_participant("DS", enrolment_date=date(2025, 6, 1), gender="female")
    make_participant("DS", enrolment_date=date(2025, 6, 1), gender="male")
    with scoped_to(SiteScope(codes=frozenset({"DS"}))):
        data = compute_table(
            spec("baseline_characteristics"), context(db_session, suppress_below=3)
        ).as_json()
    rows = rows_by_label(data)
    assert rows["N"][-1]["text"] == "4"
    assert rows["Gender, n (%) / Male"][-1]["text"] == "<3"
    # 4 - 3 would give the hidden male count: the female count is hidden too
    assert rows["Gender, n (%) / Female"][-1]["text"] == "[c]"
    assert rows["Gender, n (%) / Diverse"][-1]["text"] == "0 (0.0%)"
    assert data["footnotes"][-1].startswith("<3: fewer than 3 people (1 to 2)")


def test_recruitment_counts_and_chart(app, db_session, make_participant):
    make_participant("UKE", enrolment_date=date(2025, 1, 10))
    make_participant("UKE", enrolment_date=date(2025, 3, 10), arm="control")
    make_participant("UKE")
    make_participant("BU", enrolment_date=date(2025, 1, 10))
    from trialdm.core.scoping import all_sites
    from trialdm.screening.operations import create_entry

    with all_sites():
        for site, outcome in [
            ("UKE", "eligible"),
            ("UKE", "eligible"),
            ("UKE", "declined"),
            ("UKE", "not_eligible"),
            ("BU", "eligible"),
        ]:
            create_entry(
                db_session,
                {
                    "site": site,
                    "screening_date": date(2025, 1, 2),
                    "outcome": outcome,
                    "outcome_reason": "x",
                },
            )
        db_session.commit()
    with scoped_to(SiteScope(codes=frozenset({"UKE"}))):
        table = compute_table(spec("recruitment"), context(db_session))
    rows = {r.label: r.cells for r in table.rows}
    assert [c.label for c in table.columns] == ["Hamburg, Germany (UKE)", "Total"]
    assert rows["Screened"][0].values == (4,)
    assert rows["Eligible"][1].values == (2,)
    assert rows["Declined"][0].values == (1,)
    assert rows["Service users registered"][0].values == (3,)
    assert rows["Enrolled"][0].values == (2,)
    assert rows["Randomised to usual care"][0].values == (1,)
    assert table.chart.categories == [date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)]
    assert table.chart.series == {"UKE": [1, 1, 2]}


def test_fidelity_table_uses_the_contacts_fidelity_rule(app, db_session, make_participant):
    from datetime import timedelta

    from trialdm.contacts.operations import create_contact_session
    from trialdm.contacts.queries import site_fidelity_summary
    from trialdm.core.scoping import all_sites

    today = date.today()
    psw = make_participant("DS", "psw")
    met = make_participant("DS", enrolment_date=today - timedelta(days=200))
    behind = make_participant("DS", enrolment_date=today - timedelta(days=180))
    make_participant("DS", enrolment_date=today - timedelta(days=10))  # not started
    make_participant("DS", enrolment_date=today - timedelta(days=10), arm="control")
    sessions = [
        (today - timedelta(days=190), "individual", [met.id]),
        (today - timedelta(days=170), "group", [met.id, behind.id]),
        (today - timedelta(days=150), "individual", [met.id]),
    ]
    with all_sites():
        for on, kind, attendees in sessions:
            create_contact_session(
                db_session,
                {
                    "site": "DS",
                    "psws": [psw.id],
                    "date": on,
                    "format": kind,
                    "mode": "in_person",
                    "attendees": attendees,
                },
            )
        db_session.commit()
        reference = site_fidelity_summary(db_session, "DS", today)
    ctx = BuildContext(
        session=db_session,
        read_at=datetime.combine(today, datetime.min.time(), tzinfo=UTC),
        diagnosis_vocabulary={},
    )
    with scoped_to(SiteScope(codes=frozenset({"DS"}))):
        data = compute_table(spec("fidelity"), ctx).as_json()
    rows = rows_by_label(data)
    assert rows["Intervention participants"][0]["values"] == [3]
    heading = "Fidelity status now, n (%)"
    for status, label in (
        ("met", "Reached the minimum contacts inside the window"),
        ("at_risk", "At risk now"),
        ("not_started", "Not started"),
    ):
        assert rows[f"{heading} / {label}"][0]["values"][0] == reference["counts"][status]
    assert reference["counts"]["met"] == 1
    median, q1, q3 = rows["Contacts per participant, median (IQR)"][0]["values"]
    assert (median, q1, q3) == (1.0, 0.5, 2.0)  # contacts 0, 1, 3
    assert rows["Individual contacts, n (% of contacts)"][0]["text"] == "2 (50.0%)"
    assert rows["Group contacts, n (% of contacts)"][0]["text"] == "2 (50.0%)"


def test_recruitment_counts_completed_assessments_per_event(app, db_session, make_participant):
    from tests.seeders.instruments import sync_shipped
    from tests.test_schedule import BASELINE as BASELINE_ANSWERS
    from tests.test_schedule import DIAGNOSES, SCALE, respond

    sync_shipped(db_session)
    db_session.commit()
    # the record holds the diagnoses the baseline answers show (derived from it)
    first = make_participant("PU", enrolment_date=date(2025, 1, 31), diagnoses=DIAGNOSES)
    second = make_participant("PU", enrolment_date=date(2025, 2, 3), diagnoses=DIAGNOSES)
    for person in (first, second):
        respond(db_session, person, "baseline_demographics", "T0", BASELINE_ANSWERS)
        respond(db_session, person, "social_inclusion_scale", "T0", SCALE)
    respond(db_session, first, "social_inclusion_scale", "T1", SCALE, on=date(2025, 5, 30))
    ctx = BuildContext(
        session=db_session, read_at=datetime(2025, 7, 1, tzinfo=UTC), diagnosis_vocabulary={}
    )
    with scoped_to(SiteScope(codes=frozenset({"PU"}))):
        table = compute_table(spec("recruitment"), ctx).as_json()
    rows = rows_by_label(table)
    heading = "Assessments completed, by event"
    assert rows[f"{heading} / T0 (baseline)"][0]["values"] == [2]
    assert rows[f"{heading} / T1 (4 months)"][0]["values"] == [1]
    assert rows[f"{heading} / T2 (8 months)"][0]["values"] == [0]
    assert rows["Service users registered"][0]["values"] == [2]
    assert table["columns"][0]["n"] == 2


@pytest.mark.filterwarnings("ignore:Setting a new row on a DataFrame")  # inside tableone
def test_quartiles_of_small_groups_and_ties(app, db_session, make_participant):
    """One, two, three and five people, ties and a year of birth read at enrolment."""
    groups = {"BU": [40], "DS": [18, 59], "PU": [30, 30, 31], "ULM": [20, 20, 20, 20, 25]}
    for site, ages in groups.items():
        for age in ages:
            make_participant(
                site,
                enrolment_date=date(2024, 12, 31),
                year_of_birth=2024 - age,
                arm="control",
            )
    data = compute_table(spec("baseline_characteristics"), context(db_session)).as_json()
    keys = [c["key"][0] for c in data["columns"]]
    rows = {r["label"]: r["cells"] for r in data["rows"] if r["kind"] == "stat"}
    samples = {**groups, "__total__": [a for ages in groups.values() for a in ages]}
    for index, key in enumerate(keys):
        values = samples[key]
        median, q1, q3 = rows["Age in years, median (IQR)"][index]["values"]
        if len(values) == 1:
            assert (median, q1, q3) == (values[0],) * 3
            continue
        quartiles = statistics.quantiles(values, n=4, method="inclusive")
        assert (q1, median, q3) == pytest.approx(tuple(quartiles))
        assert rows["Age in years, mean (SD)"][index]["values"][0] == pytest.approx(
            statistics.fmean(values)
        )


def test_statistics_agree_with_tableone(app, db_session, make_participant, trial_minimum_record):
    """tableone (pandas) as an independent reference: mean (SD), median [Q1,Q3], n (%)."""
    import re

    trial_minimum_record(WITHOUT_GENDER)

    import pandas as pd
    from tableone import TableOne

    rng = random.Random(7)
    people = []
    for _ in range(60):
        site = rng.choice(["BU", "DS"])
        age = rng.randint(18, 60)
        gender = rng.choice(["female", "male", "diverse", None])
        make_participant(
            site, enrolment_date=date(2025, 5, 1), year_of_birth=None, age=age, gender=gender
        )
        people.append({"site": site, "age": age, "gender": gender})
    frame = pd.DataFrame(people)
    normal = TableOne(
        frame,
        columns=["age", "gender"],
        categorical=["gender"],
        groupby="site",
        pval=False,
        decimals=6,
    ).tableone
    skewed = TableOne(
        frame, columns=["age"], groupby="site", nonnormal=["age"], pval=False, decimals=6
    ).tableone
    normal.columns = [c[1] for c in normal.columns]
    skewed.columns = [c[1] for c in skewed.columns]

    def numbers(text: str) -> list[float]:
        return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", str(text))]

    data = compute_table(spec("baseline_characteristics"), context(db_session)).as_json()
    rows = rows_by_label(data)
    columns = {"BU": 0, "DS": 1, "Overall": 2}
    for name, index in columns.items():
        mean, sd = rows["Age in years, mean (SD)"][index]["values"]
        assert [mean, sd] == pytest.approx(
            numbers(normal.loc[("age, mean (SD)", ""), name]), abs=1e-5
        )
        median, q1, q3 = rows["Age in years, median (IQR)"][index]["values"]
        reference = numbers(skewed.loc[("age, median [Q1,Q3]", ""), name])
        assert [median, q1, q3] == pytest.approx(reference, abs=1e-5)
        for value, label in (
            ("female", "Female"),
            ("male", "Male"),
            ("diverse", "Diverse"),
            ("None", "Missing"),
        ):
            n, share = rows[f"Gender, n (%) / {label}"][index]["values"]
            expected_n, expected_pct = numbers(normal.loc[("gender, n (%)", value), name])
            assert n == expected_n
            assert share * 100 == pytest.approx(expected_pct, abs=1e-4)


def test_a_cross_site_table_reads_the_participants_table_whole_a_site_by_index(
    app, db_session, make_participant
):
    """SQLite: every site's people are most of the table, read without the category
    index (a second look-up per row); one site's build keeps the site's index."""
    from tests.sql_helpers import recorded
    from trialdm.core.scoping import all_sites

    make_participant("BU", enrolment_date=date(2025, 5, 1))
    engine = db_session.get_bind()

    def plans(statements: list[tuple[str, Any]]) -> list[str]:
        raw = db_session.connection().connection.driver_connection
        return [
            " ".join(str(row[3]) for row in raw.execute("EXPLAIN QUERY PLAN " + sql, params))
            for sql, params in statements
        ]

    def reading_participants(sent: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        return [(sql, params) for sql, params in sent if "FROM participants" in sql]

    with recorded() as sent, all_sites():
        every = compute_table(spec("baseline_characteristics"), context(db_session))
    whole = reading_participants(sent)
    with recorded() as sent, scoped_to(SiteScope(codes=frozenset({"BU"}))):
        one = compute_table(spec("baseline_characteristics"), context(db_session))
    by_site = reading_participants(sent)
    assert every.columns[0].n == one.columns[0].n == 1
    assert whole and by_site
    assert not any("NOT INDEXED" in sql for sql, _ in by_site)
    if engine.dialect.name != "sqlite":
        assert not any("NOT INDEXED" in sql for sql, _ in whole)
        return
    assert all("FROM participants NOT INDEXED JOIN sites" in sql for sql, _ in whole)
    assert all("SCAN participants" in plan for plan in plans(whole))
    assert all("SEARCH participants USING" in plan for plan in plans(by_site))
