"""Table files: checks with file, key and problem; the CLI; a trial's own table
built through the real summary job with no code change; printing styles."""

from __future__ import annotations

import csv
import re
from datetime import date
from html import unescape
from pathlib import Path

import openpyxl
import pytest

from tests.seeders.instruments import sync_shipped
from tests.test_schedule import BASELINE
from tests.test_summaries_qualitative import load_upsides
from trialdm.core.scoping import all_sites
from trialdm.instruments.operations import create_response
from trialdm.qualitative.operations import create_session
from trialdm.summaries.registry import SHIPPED_TABLES, instrument_definitions
from trialdm.summaries.specfiles import TableFileError, parse_table

INSTRUMENTS = Path(__file__).resolve().parent.parent / "instruments"
# the diagnoses items are derived from the record's diagnoses (which these tests set)
BASELINE_ANSWERS = {k: v for k, v in BASELINE.items() if k != "diagnoses"}

# A Table 1 of a qualitative study: focus-group members against interviewees, as
# a journal prints it. Nothing in trialdm knows this table; it is only this file.
MEMBERS_BY_KIND = """
name = "members_by_kind"
title = "Characteristics of focus-group members and interviewees"
corner = "Characteristic"
footnotes = ["ICD-10: International Classification of Diseases, 10th revision."]
notes = ["A person in a focus group and an interview is counted in both columns."]

[population]
from = "qualitative_members"
unit = "person"

[variables]
age_at_session = { derive = "age", at = "session" }
age_years = { first_of = ["age", "age_at_session"] }
living = { answer = "baseline_demographics.living_situation", event = "T0" }
background = { answer = "fgd_member_questionnaire.professional_background", at = "session" }

[labels.living]
family = "With family"

[columns]
by = ["kind"]
with_n = "{label} (N = {N})"

[style]
percent_decimals = 0
percent_sign = false
missing = "when_any"
zero = "0"
n_below_header = false

[[rows]]
label = "Age, median (range)"
stat = "median_range"
variable = "age_years"
decimals = 0

[[rows]]
label = "Diagnoses (ICD-10), n (%)"
stat = "multi_pct"
variable = "diagnoses"
groups = [
  { label = "Anxiety disorders", codes = ["F40-F41"] },
  { label = "Depression", codes = ["F32-F33"] },
  { label = "Schizophrenia", codes = ["F20"] },
]
other_label = "Other diagnoses"
missing_label = "No diagnosis recorded"

[[rows]]
label = "Living situation, n (%)"
stat = "n_pct"
variable = "living"
categories = ["alone", "family", "supported"]

[[rows]]
label = "Professional background, n (%)"
stat = "n_pct"
variable = "background"
categories = ["nurse", "social_worker"]
"""


def problems(text: str) -> list[tuple[str, str]]:
    import tomllib

    with pytest.raises(TableFileError) as caught:
        parse_table(tomllib.loads(text), "bad.toml", instrument_definitions(str(INSTRUMENTS)))
    assert all(p.file == "bad.toml" for p in caught.value.problems)
    return [(p.key, p.reason) for p in caught.value.problems]


def test_a_bad_table_file_names_file_key_and_problem():
    found = problems(
        """
name = "Bad Name"
title = "x"
colour = "red"
[population]
from = "everyone"
[variables]
edu = { answer = "baseline_demographics.shoe_size", event = "T0" }
band = { derive = "band", of = "gender", cuts = [30, 20] }
[columns]
by = ["nowhere"]
with_n = "{label} (N = {size})"
[style]
percent_decimals = 4
[[rows]]
label = "Age"
stat = "mean_sd"
variable = "gender"
[[rows]]
label = "Things"
stat = "average"
"""
    )
    keys = dict(found)
    assert "lower-case" in keys["name"]
    assert keys["colour"] == "unknown key"
    assert "must be one of participants, qualitative_members" in keys["population.from"]
    assert keys["variables.edu.answer"] == "baseline_demographics has no field 'shoe_size'"
    assert keys["variables.band.cuts"] == "must be ascending numbers"
    assert keys["columns.by"] == "'nowhere' is not a variable of this table"
    assert keys["columns.with_n"] == "'{size}' is not a variable of this table"
    assert keys["style.percent_decimals"] == "must be a whole number from 0 to 2"
    assert keys["rows[0].stat"] == "mean_sd needs a number; 'gender' is text"
    assert keys["rows[1].stat"].startswith("must be one of n, count, n_pct")


def test_shipped_table_files_pass_their_checks():
    instruments = instrument_definitions(str(INSTRUMENTS))
    names = []
    for path in sorted(SHIPPED_TABLES.glob("*.toml")):
        import tomllib

        names.append(parse_table(tomllib.loads(path.read_text()), path.name, instruments).name)
    assert sorted(names) == sorted(
        [
            "recruitment",
            "baseline_characteristics",
            "participant_listing",
            "fidelity",
            "focus_group_characteristics",
            "qualitative_participants",
        ]
    )


def test_cli_checks_one_file(app, tmp_path):
    runner = app.test_cli_runner()
    good = tmp_path / "members_by_kind.toml"
    good.write_text(MEMBERS_BY_KIND)
    result = runner.invoke(args=["tables", "check", str(good)])
    assert result.exit_code == 0, result.output
    assert "members_by_kind.toml: ok" in result.output and "columns by kind" in result.output
    bad = tmp_path / "members_by_kind2.toml"
    bad.write_text(MEMBERS_BY_KIND.replace('variable = "living"', 'variable = "lving"'))
    result = runner.invoke(args=["tables", "check", str(bad)])
    assert result.exit_code == 1
    assert "members_by_kind2.toml: rows[2].variable: missing or not a variable" in result.output
    assert "members_by_kind2.toml: name: must match the file name" not in result.output
    renamed = tmp_path / "other.toml"
    renamed.write_text(MEMBERS_BY_KIND)
    result = runner.invoke(args=["tables", "check", str(renamed)])
    assert "other.toml: name: must match the file name (other)" in result.output


def test_cli_preview_prints_the_published_upsides_table(app, db_session, reference_dir):
    load_upsides(db_session, reference_dir)
    result = app.test_cli_runner().invoke(
        args=["tables", "preview", "focus_group_characteristics", "--scope", "bu"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Characteristics of the focus-group discussions by site"
    assert re.split(r"\s{2,}", lines[2]) == ["Study site", "Butabika, Uganda (BU)"]
    assert re.split(r"\s{2,}", lines[3]) == ["N (gender)", "6 (f=4, m=2)"]
    assert re.split(r"\s{2,}", lines[4]) == ["Mean age in years (range)", "42 (35–54)"]
    unknown = app.test_cli_runner().invoke(args=["tables", "preview", "nonesuch"])
    assert unknown.exit_code == 1 and "No table 'nonesuch'" in unknown.output
    bad_scope = app.test_cli_runner().invoke(
        args=["tables", "preview", "recruitment", "--scope", "XX"]
    )
    assert "Unknown scope 'XX'" in bad_scope.output


def test_upsides_table1_in_the_html_preview_cell_for_cell(
    app, db_session, reference_dir, make_user
):
    from tests.web_helpers import page_as
    from trialdm.summaries.models import SummaryJob

    load_upsides(db_session, reference_dir)
    expected_text = (reference_dir / "upsides_table1_expected.tsv").read_text(encoding="utf-8")
    expected = list(csv.reader(expected_text.splitlines(), delimiter="\t"))
    client = page_as(app, make_user, "coordinator")
    client.post("/exports", data={"scope": "all", "tables": ["focus_group_characteristics"]})
    job = db_session.query(SummaryJob).one()
    page = client.get(f"/exports/{job.id}/tables/focus_group_characteristics").get_data(
        as_text=True
    )
    table = page[page.index("<table") : page.index("</table>")]
    lines = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, flags=re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.S)
        lines.append([unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells])
    assert lines == expected


def _answer(session, person, instrument, answers, event=None, context=None):
    create_response(
        session,
        {
            "participant_id": person.id,
            "instrument": instrument,
            "event": event,
            "context": context,
            "status": "complete",
            "collected_on": date(2025, 3, 1),
            "answers": answers,
        },
    )


# These tables must show unknown ages and genders, so the trial here records people
# without them.
NOTHING_ON_CREATION = """
[service_user]
on_creation = []
on_enrolment = ["consent_date", "consent_version", "arm"]
"""


def test_a_trials_own_table_file_builds_through_the_summary_job(
    app, db_session, make_participant, api_as, tmp_path, monkeypatch, trial_minimum_record
):
    trial_minimum_record(NOTHING_ON_CREATION)
    folder = tmp_path / "trial_tables"
    folder.mkdir()
    (folder / "members_by_kind.toml").write_text(MEMBERS_BY_KIND)
    monkeypatch.setitem(app.config, "TABLES_PATH", str(folder))
    sync_shipped(db_session)
    # name: (year of birth, diagnoses, living situation at T0)
    people = {
        "a": (1980, ["F41"], "alone"),
        "b": (1990, ["F40", "F41"], "family"),
        "c": (1970, ["F32", "F20"], None),
        "d": (None, [], None),  # not enrolled: no age, no baseline
        "e": (2000, ["F33"], "alone"),
        "f": (1965, ["F60"], "family"),
        "g": (1985, ["F20"], "family"),
    }
    made = {}
    for name, (born, codes, _) in people.items():
        made[name] = make_participant(
            "PU",
            enrolment_date=date(2024, 1, 1) if born else None,
            year_of_birth=born,
            diagnoses=[{"code": c} for c in codes],
        )
    with all_sites():
        for name, (_, _, living) in people.items():
            if living:
                _answer(
                    db_session,
                    made[name],
                    "baseline_demographics",
                    {**BASELINE_ANSWERS, "living_situation": living},
                    event="T0",
                )
        group = create_session(
            db_session,
            "focus_group",
            {
                "site": "PU",
                "date": date(2025, 3, 1),
                "mode": "in_person",
                "members": [{"participant_id": made[n].id} for n in "abcd"],
            },
        )
        for name, background in (("a", "nurse"), ("b", "nurse"), ("c", "social_worker")):
            _answer(
                db_session,
                made[name],
                "fgd_member_questionnaire",
                {"gender": "female", "age": 40, "professional_background": background},
                context=f"focus_group:{group.id}",
            )
        for name in "aefg":
            create_session(
                db_session,
                "interview",
                {
                    "site": "PU",
                    "date": date(2025, 3, 2),
                    "mode": "phone",
                    "members": [{"participant_id": made[name].id}],
                },
            )
        db_session.commit()

    coordinator = api_as("coordinator")
    job = coordinator.post(
        "/api/v1/summaries", json={"scope": "all", "tables": ["members_by_kind"]}
    ).json
    state = coordinator.get(f"/api/v1/summaries/{job['id']}").json
    assert state["state"] == "done", state
    table = coordinator.get(f"/api/v1/summaries/{job['id']}/tables/members_by_kind").json
    assert [c["label"] for c in table["columns"]] == [
        "Focus groups (N = 4)",
        "Interviews (N = 4)",
    ]
    printed = [[r["label"], *[c["text"] for c in r["cells"]]] for r in table["rows"]]
    assert printed == [
        # ages at the session: a 45, b 35, c 55, d unknown | a 45, e 25, f 60, g 40
        ["Age, median (range)", "45 (35–55)", "43 (25–60)"],
        ["Missing", "1 (25)", "0"],
        ["Diagnoses (ICD-10), n (%)", "", ""],
        ["Anxiety disorders", "2 (50)", "1 (25)"],
        ["Depression", "1 (25)", "1 (25)"],
        ["Schizophrenia", "1 (25)", "1 (25)"],
        ["Other diagnoses", "0", "1 (25)"],
        ["No diagnosis recorded", "1 (25)", "0"],
        ["Living situation, n (%)", "", ""],
        ["Lives alone", "1 (25)", "2 (50)"],
        ["With family", "1 (25)", "2 (50)"],
        ["Supported or sheltered housing", "0", "0"],
        ["Missing", "2 (50)", "0"],
        ["Professional background, n (%)", "", ""],
        ["Nurse", "2 (50)", "0"],
        ["Social worker", "1 (25)", "0"],
        ["Missing", "1 (25)", "4 (100)"],
    ]
    assert table["footnotes"] == [
        "ICD-10: International Classification of Diseases, 10th revision."
    ]
    assert table["notes"] == [
        "A person in a focus group and an interview is counted in both columns."
    ]


def test_statements_do_not_grow_with_participants(
    app, db_session, make_participant, tmp_path, monkeypatch
):
    """Every table (shipped and a trial's own, with instrument answers) at two sizes:
    the same number of SQL statements."""
    from sqlalchemy import event

    from trialdm.core.models import utcnow
    from trialdm.extensions import db
    from trialdm.summaries.operations import build_context, compute_tables, table_json
    from trialdm.summaries.registry import table_names

    folder = tmp_path / "trial_tables"
    folder.mkdir()
    (folder / "members_by_kind.toml").write_text(MEMBERS_BY_KIND)
    monkeypatch.setitem(app.config, "TABLES_PATH", str(folder))
    sync_shipped(db_session)

    def add_people(count: int) -> None:
        people = [
            make_participant(
                "BU",
                enrolment_date=date(2024, 1, 1),
                year_of_birth=1980 + i % 20,
                diagnoses=[{"code": ("F20", "F41", "F32")[i % 3]}],
            )
            for i in range(count)
        ]
        with all_sites():
            for person in people:
                _answer(
                    db_session,
                    person,
                    "baseline_demographics",
                    {**BASELINE_ANSWERS, "living_situation": "alone"},
                    event="T0",
                )
            create_session(
                db_session,
                "focus_group",
                {
                    "site": "BU",
                    "date": date(2025, 3, 1),
                    "mode": "in_person",
                    "members": [{"participant_id": p.id} for p in people],
                },
            )
            db_session.commit()

    def statements() -> int:
        counted = [0]

        def count(*_args) -> None:
            counted[0] += 1

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            with all_sites():
                ctx = build_context(db_session, utcnow())
                for result in compute_tables(ctx, table_names()):
                    table_json(result, ctx)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return counted[0]

    add_people(4)
    few = statements()
    add_people(20)
    many = statements()
    assert "members_by_kind" in table_names()
    assert few == many


def test_a_missing_age_is_footnoted_never_silently_dropped(app, db_session, reference_dir):
    from sqlalchemy import select

    from tests.test_summaries_qualitative import context
    from trialdm.core.audit import audit_context
    from trialdm.qualitative.models import QualitativeMember
    from trialdm.summaries.engine import compute_table
    from trialdm.summaries.registry import specs

    load_upsides(db_session, reference_dir)
    with all_sites():
        member = db_session.scalars(
            select(QualitativeMember).where(QualitativeMember.member_code == "BU-MHW-02")
        ).one()
        with audit_context(reason="age not given"):
            member.age = None
            db_session.commit()
    table = compute_table(specs()["focus_group_characteristics"], context(db_session)).as_json()
    labels = [r["label"] for r in table["rows"]]
    assert "Missing" not in labels
    bu = [c["label"] for c in table["columns"]].index("Butabika, Uganda (BU)")
    age = table["rows"][labels.index("Mean age in years (range)")]["cells"][bu]["text"]
    assert age == "40 (35–43)"  # the five ages recorded: 35, 38, 40, 42, 43
    assert table["footnotes"][-1] == (
        "Mean age in years (range): no value recorded for 1 of 6 (Butabika, Uganda (BU))."
    )


SITE_STYLE = """
name = "by_community"
title = "Participants by community"
corner = ""

[population]
from = "participants"
where = { category = ["service_user"] }

[variables]
years_enrolled = { derive = "years_since", of = "enrolment_date", at = "read" }
age_years = { derive = "age", at = "enrolment" }
age_group = { derive = "band", of = "age_years", cuts = [30, 50], band_labels = [
  "Under 30", "30 to 49", "50 or older"] }
chosen = { participant = "diagnoses" }
n_chosen = { derive = "count", of = "chosen" }

[labels.site]
BU = "Large community (59,000 inhabitants)"
DS = "Small community (4,000 inhabitants)"

[columns]
by = ["site"]
headers = ["{site}"]
total = true
total_label = "Overall"

[style]
percent_of = "non_missing"
zero = "–"

[[rows]]
label = "Gender, n (%)"
stat = "n_pct"
variable = "gender"
categories = ["female", "male"]

[[rows]]
label = "Age group, n (%)"
stat = "n_pct"
variable = "age_group"
missing = false

[[rows]]
label = "Years since enrolment, mean (SD)"
stat = "mean_sd"
variable = "years_enrolled"
decimals = 1
missing = false

[[rows]]
label = "Diagnoses ticked at baseline, median (range)"
stat = "median_range"
variable = "n_chosen"
decimals = 0
missing = false

[[rows]]
label = "Region, n (%)"
stat = "n_pct"
variable = "site"
groups = [
  { label = "East Africa", codes = ["BU", "DS"] },
  { label = "Germany", codes = ["UKE", "ULM"] },
]
"""


def test_site_labels_percent_of_known_zero_text_and_derived_values(
    app, db_session, make_participant, trial_minimum_record
):
    trial_minimum_record(NOTHING_ON_CREATION)
    import tomllib
    from datetime import UTC, datetime

    from trialdm.summaries.engine import compute_table
    from trialdm.summaries.spec import BuildContext
    from trialdm.summaries.specfiles import build_spec

    sync_shipped(db_session)
    spec = build_spec(
        parse_table(
            tomllib.loads(SITE_STYLE), "by_community.toml", instrument_definitions(str(INSTRUMENTS))
        )
    )
    born = {"BU": [1990, 1970, 2000], "DS": [1980]}
    genders = {"BU": ["female", "female", None], "DS": ["male"]}
    recorded = iter([["F32", "F41.1"], ["F20"], [], ["F33"]])
    for site in ("BU", "DS"):
        for year, gender in zip(born[site], genders[site], strict=True):
            codes = next(recorded)
            make_participant(
                site,
                enrolment_date=date(2024, 1, 1),
                year_of_birth=year,
                gender=gender,
                diagnoses=[{"code": c} for c in codes],
            )
    ctx = BuildContext(session=db_session, read_at=datetime(2026, 1, 1, tzinfo=UTC))
    with all_sites():
        table = compute_table(spec, ctx).as_json()
    assert [c["label"] for c in table["columns"]] == [
        "Large community (59,000 inhabitants)",
        "Small community (4,000 inhabitants)",
        "Overall",
    ]
    printed = [[r["label"], *[c["text"] for c in r["cells"]]] for r in table["rows"]]
    assert printed == [
        ["Gender, n (%)", "", "", ""],
        # percentages of those with a gender recorded; the missing line is a count
        ["Female", "2 (100.0%)", "–", "2 (66.7%)"],
        ["Male", "–", "1 (100.0%)", "1 (33.3%)"],
        ["Missing", "1", "0", "1"],
        ["Age group, n (%)", "", "", ""],
        # ages at enrolment in 2024: 34, 54, 24 | 44
        ["Under 30", "1 (33.3%)", "–", "1 (25.0%)"],
        ["30 to 49", "1 (33.3%)", "1 (100.0%)", "2 (50.0%)"],
        ["50 or older", "1 (33.3%)", "–", "1 (25.0%)"],
        # 1 January 2024 to 1 January 2026: 731 days
        ["Years since enrolment, mean (SD)", "2.0 (0.0)", "2.0 (–)", "2.0 (0.0)"],
        # diagnoses recorded: BU 2, 1 and 0, DS 1
        ["Diagnoses ticked at baseline, median (range)", "1 (0–2)", "1 (1–1)", "1 (0–2)"],
        # codes grouped into rows, in the order declared
        ["Region, n (%)", "", "", ""],
        ["East Africa", "3 (100.0%)", "1 (100.0%)", "4 (100.0%)"],
        ["Germany", "–", "–", "–"],
        ["Missing", "0", "0", "0"],
    ]


def test_n_and_percent_in_two_cells(app, db_session, make_participant, tmp_path):
    import tomllib
    from datetime import UTC, datetime

    from trialdm.summaries.engine import compute_table
    from trialdm.summaries.spec import BuildContext
    from trialdm.summaries.specfiles import build_spec
    from trialdm.summaries.workbook import Cover, render_workbook

    text = SITE_STYLE.replace('zero = "–"', 'zero = "–"\nn_pct_cells = 2\npercent_decimals = 0')
    spec = build_spec(
        parse_table(tomllib.loads(text), "x.toml", instrument_definitions(str(INSTRUMENTS)))
    )
    for gender in ("female", "female", "male"):
        make_participant("BU", enrolment_date=date(2024, 1, 1), gender=gender)
    ctx = BuildContext(session=db_session, read_at=datetime(2026, 1, 1, tzinfo=UTC))
    with all_sites():
        result = compute_table(spec, ctx)
        table = result.as_json()
        render_workbook(
            tmp_path / "two.xlsx", Cover("t", "all", ctx.read_at, "t", "t", []), [result], ctx
        )
    sheet = openpyxl.load_workbook(tmp_path / "two.xlsx")["by_community"]
    assert [c.value for c in sheet[4][1:] if c.value] == ["n", "%", "n", "%"]
    big = "Large community (59,000 inhabitants)"
    assert [(c["group"], c["label"]) for c in table["columns"]] == [
        (big, "n"),
        (big, "%"),
        ("Overall", "n"),
        ("Overall", "%"),
    ]
    rows = {r["label"]: [c["text"] for c in r["cells"]] for r in table["rows"]}
    assert rows["Female"] == ["2", "67%", "2", "67%"]
    assert rows["Male"] == ["1", "33%", "1", "33%"]
    assert rows["Years since enrolment, mean (SD)"] == ["2.0 (0.0)", "", "2.0 (0.0)", ""]


def test_shanghai_table2_in_the_html_preview(app, db_session, reference_dir, make_user):
    import json

    from tests.summaries_fixtures import load_shanghai
    from tests.web_helpers import page_as
    from trialdm.summaries.models import SummaryJob

    load_shanghai(reference_dir, "PU")
    expected = json.loads((reference_dir / "shanghai_table2_expected.json").read_text())
    published = list(csv.DictReader((reference_dir / "shanghai_table2_participants.csv").open()))
    client = page_as(app, make_user, "coordinator")
    client.post("/exports", data={"scope": "PU", "tables": ["participant_listing"]})
    job = db_session.query(SummaryJob).one()
    page = client.get(f"/exports/{job.id}/tables/participant_listing").get_data(as_text=True)
    tables = []
    for table in re.findall(r"<table.*?</table>", page, flags=re.S):
        lines = []
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, flags=re.S):
            cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.S)
            lines.append([unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells])
        tables.append(lines)
    summary, listing = tables
    cells = {line[0]: line[1] for line in summary[1:]}
    assert cells["Age in years, mean (SD; range)"] == expected["age_years"]["printed"]
    assert cells["Years in care, mean (SD; range)"] == expected["years_in_daycare"]["printed"]
    assert cells["Male"] == "10 (71.4%)" and cells["Divorced"] == "2 (14.3%)"
    header, *lines = listing
    assert header[0] == "Participant" and len(lines) == 14
    for line, person in zip(lines, published, strict=True):
        shown = dict(zip(header, line, strict=True))
        assert shown["Participant"] == f"{person['pseudonym']}/{person['gender'][0].upper()}"
        assert shown["Diagnosis"] == person["diagnosis"]
        assert shown["Years in care"] == person["years_in_daycare"]
        assert shown["Years of illness"] == person["years_of_illness"]


def test_a_templates_renderer_prints_each_row_as_render_does():
    """The listing's row labels: the renderer keeps each field's text by value and
    type (1 and True print differently), and prints every row as ``render``."""
    from trialdm.summaries.specfiles.templates import LabelTemplate

    labels = {"gender": {"female": "Female", "": "Not stated"}, "flag": {"1": "One"}}
    rows = [
        {"n": 1, "gender": "female", "flag": 1, "day": date(2021, 9, 7)},
        {"n": 2, "gender": None, "flag": True, "day": None},
        {"n": 3, "gender": "female", "flag": 1.0, "day": date(2021, 9, 7)},
        {"n": 4, "gender": "male", "flag": True, "day": date(2022, 1, 1)},
    ]
    for text in ("P{n}/{gender:initial}", "{gender} {flag:code} {flag} {day:long_date} {day:year}"):
        template = LabelTemplate.parse(text)
        render = template.renderer(labels)
        assert [render(r) for r in rows + rows] == [template.render(r, labels) for r in rows + rows]
