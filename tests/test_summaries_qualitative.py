"""Focus-group Table 1 (UPSIDES) cell for cell, and people in focus groups vs interviews."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime

from trialdm.core.scoping import all_sites
from trialdm.qualitative.imports import import_focus_groups
from trialdm.summaries.engine import compute_table
from trialdm.summaries.registry import specs
from trialdm.summaries.spec import BuildContext


def context(session) -> BuildContext:
    return BuildContext(
        session=session,
        read_at=datetime(2026, 1, 1, tzinfo=UTC),
        diagnosis_vocabulary={"F20": "Schizophrenia", "F32": "Depressive episode"},
    )


def load_upsides(session, reference_dir) -> None:
    with all_sites():
        import_focus_groups(
            session,
            (reference_dir / "upsides_fgd_sessions.csv").read_text(encoding="utf-8"),
            (reference_dir / "upsides_fgd_members.csv").read_text(encoding="utf-8"),
        )
        session.commit()


def printed(table: dict) -> list[list[str]]:
    """The table as a paper prints it: header line, then label and cell texts."""
    lines = [[table["corner"], *[c["label"] for c in table["columns"]]]]
    lines += [[r["label"], *[c["text"] for c in r["cells"]]] for r in table["rows"]]
    return lines


def test_upsides_table1_reproduces_cell_for_cell(app, db_session, reference_dir):
    load_upsides(db_session, reference_dir)
    expected_text = (reference_dir / "upsides_table1_expected.tsv").read_text(encoding="utf-8")
    expected = list(csv.reader(expected_text.splitlines(), delimiter="\t"))
    table = compute_table(specs()["focus_group_characteristics"], context(db_session)).as_json()
    assert printed(table) == expected
    # the same cells carry typed values for the workbook
    date_row = next(r for r in table["rows"] if r["label"] == "Date")
    assert date_row["cells"][0]["values"] == ["2021-09-07"]
    duration = next(r for r in table["rows"] if r["label"] == "Duration")
    assert duration["cells"][0]["values"] == [70]


def test_several_focus_groups_of_a_site_get_a_column_each(app, db_session, reference_dir):
    from trialdm.qualitative.operations import create_session

    load_upsides(db_session, reference_dir)
    with all_sites():
        create_session(
            db_session,
            "focus_group",
            {
                "site": "BU",
                "date": date(2021, 9, 2),
                "mode": "in_person",
                "duration_min": 45,
                "location": "Butabika",
                "members": [],
            },
        )
        db_session.commit()
    table = compute_table(specs()["focus_group_characteristics"], context(db_session)).as_json()
    bu = [c for c in table["columns"] if c["group"] == "Butabika, Uganda (BU)"]
    assert [c["label"] for c in bu] == [
        "Focus group 1 (24 August 2021)",
        "Focus group 2 (2 September 2021)",
    ]
    assert [c for c in table["columns"] if c["label"] == "Pune, India (PU)"]
    empty = table["columns"].index(bu[1])
    n_gender = next(r for r in table["rows"] if r["label"] == "N (gender)")
    assert n_gender["cells"][empty]["text"] == "0"


def test_people_in_focus_groups_and_interviews(app, db_session, make_participant):
    from trialdm.qualitative.operations import create_session

    both = make_participant(
        "PU", "service_user", age=30, gender="female", diagnoses=[{"code": "F20"}, {"code": "F32"}]
    )
    fg_only = make_participant("PU", "psw", age=40, gender="male")
    interview_only = make_participant(
        "BU", "service_user", age=50, gender="male", diagnoses=[{"code": "F20"}]
    )
    with all_sites():
        create_session(
            db_session,
            "focus_group",
            {
                "site": "PU",
                "date": date(2025, 3, 1),
                "mode": "in_person",
                "members": [{"participant_id": both.id}, {"participant_id": fg_only.id}],
            },
        )
        create_session(
            db_session,
            "interview",
            {
                "site": "PU",
                "date": date(2025, 3, 2),
                "mode": "phone",
                "members": [{"participant_id": both.id}],
            },
        )
        create_session(
            db_session,
            "interview",
            {
                "site": "BU",
                "date": date(2025, 3, 3),
                "mode": "phone",
                "members": [{"participant_id": interview_only.id}],
            },
        )
        db_session.commit()
    table = compute_table(specs()["qualitative_participants"], context(db_session)).as_json()
    assert [c["label"] for c in table["columns"]] == ["Focus groups", "Interviews"]
    rows = {}
    heading = None
    for r in table["rows"]:
        if r["kind"] in ("heading", "stat"):
            heading = r["label"]
        rows[f"{heading} / {r['label']}" if r["kind"] != "stat" else r["label"]] = [
            c["text"] for c in r["cells"]
        ]
    assert rows["N"] == ["2", "2"]
    assert rows["Age in years, median (range)"] == ["35 (30–40)", "40 (30–50)"]
    assert rows["Category, n (%) / Service users"] == ["1 (50.0%)", "2 (100.0%)"]
    assert rows["Diagnoses, n (%) of people / Schizophrenia"] == ["1 (50.0%)", "2 (100.0%)"]
    assert rows["Diagnoses, n (%) of people / None recorded"] == ["1 (50.0%)", "0 (0.0%)"]
    assert rows["Number of diagnoses, median (range)"] == ["1 (0–2)", "2 (1–2)"]
