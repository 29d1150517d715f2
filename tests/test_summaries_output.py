"""Workbook sheets and Word tables that paste into a manuscript as they are: the
same printed text as the JSON, headers merged over their columns, every number
on a companion sheet, downloads through the API and the export pages."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime

import docx
import openpyxl
import pytest
from sqlalchemy import select

from tasks.summaries import run_build
from tests.test_summaries_qualitative import load_upsides
from tests.web_helpers import page_as
from trialdm.core.audit import AuditEvent
from trialdm.core.scoping import all_sites
from trialdm.summaries import operations
from trialdm.summaries.models import SummaryJob

FOCUS = "focus_group_characteristics"
BASELINE = "baseline_characteristics"


def build(db_session, tables: list[str], scope: str = "all") -> SummaryJob:
    with all_sites():
        job = operations.CreateSummaryJob(scope, tables, None, "Dr Coordinator").run(db_session)
    db_session.info.pop("trialdm_pending_tasks", None)
    db_session.commit()
    assert run_build(db_session, job.id) == "done", job.error
    db_session.refresh(job)
    return job


def printed_grid(table: dict) -> list[list[str | None]]:
    """The table as the JSON prints it, laid out as on paper: header rows (a group
    once, over its columns; the corner and ungrouped labels in the top row), then
    label and cell texts; None where a merged cell continues."""
    columns = table["columns"]
    grouped = any(c["group"] for c in columns)
    body = [[r["label"], *[c["text"] or None for c in r["cells"]]] for r in table["rows"]]
    if not grouped:
        return [[table["corner"] or None, *[c["label"] for c in columns]], *body]
    top: list[str | None] = [table["corner"] or None]
    under: list[str | None] = [None]
    previous = object()
    for column in columns:
        if column["group"]:
            top.append(column["group"] if column["group"] != previous else None)
            under.append(column["label"])
        else:
            top.append(column["label"])
            under.append(None)
        previous = column["group"]
    return [top, under, *body]


def sheet_grid(ws, first_row: int, rows: int, width: int) -> list[list]:
    return [
        [ws.cell(row=r, column=c).value for c in range(1, width + 1)]
        for r in range(first_row, first_row + rows)
    ]


def docx_grid(table) -> list[list[str | None]]:
    """Word table texts; a cell merged with the one before it (right or below) is None."""
    grid: list[list[str | None]] = []
    above: list = []
    for row in table.rows:
        line: list[str | None] = []
        cells = row.cells
        for index, cell in enumerate(cells):
            repeated = (index and cell._tc is cells[index - 1]._tc) or (
                above and cell._tc is above[index]._tc
            )
            line.append(None if repeated else (cell.text or None))
        grid.append(line)
        above = cells
    return grid


def merged(ws) -> set[str]:
    return {str(r) for r in ws.merged_cells.ranges}


# ------------------------------------------------------------ UPSIDES Table 1


def test_upsides_table1_sheet_and_word_print_the_published_cells(
    app, api_as, db_session, reference_dir
):
    load_upsides(db_session, reference_dir)
    expected = list(
        csv.reader(
            (reference_dir / "upsides_table1_expected.tsv").read_text("utf-8").splitlines(),
            delimiter="\t",
        )
    )
    job = build(db_session, [FOCUS])
    table = job.result[FOCUS]
    assert printed_grid(table) == expected  # the JSON prints the published table

    wb = openpyxl.load_workbook(operations.workbook_path(job))
    ws = wb[FOCUS]
    assert ws["A1"].value == table["title"]
    grid = sheet_grid(ws, 3, len(expected), len(expected[0]))
    assert grid == expected  # 42 published cells, one sheet cell each
    cells = [c for row in ws.iter_rows(min_row=3, max_row=2 + len(expected)) for c in row]
    assert all(c.data_type == "s" for c in cells if c.value is not None)
    assert "52 (48–57)" in grid[2] and "4 (f=3, m=1)" in grid[1]
    # the manuscript's footnotes, then the method notes apart from them
    assert table["footnotes"] and table["notes"]
    under = [ws.cell(row=r, column=1).value for r in range(4 + len(expected), ws.max_row + 1)]
    assert under == [*table["footnotes"], None, *table["notes"]]

    coordinator = api_as("coordinator")
    response = coordinator.get(f"/api/v1/summaries/{job.id}/tables/{FOCUS}/docx")
    assert response.status_code == 200
    assert (
        response.mimetype
        == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    assert re.search(
        rf"{FOCUS}-all-\d{{4}}-\d\d-\d\d-job{job.id}\.docx", response.headers["Content-Disposition"]
    )
    document = docx.Document(io.BytesIO(response.data))
    assert document.paragraphs[0].text == table["title"]
    assert docx_grid(document.tables[0]) == expected
    assert [p.text for p in document.paragraphs[1:]] == [
        "",
        *table["footnotes"],
        "",
        *table["notes"],
    ]
    audit = db_session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "download",
            AuditEvent.entity == "summary_job",
            AuditEvent.entity_id == str(job.id),
        )
    ).all()
    assert [e.changes for e in audit] == [{"scope": "all", "table": FOCUS, "format": "docx"}]


def test_companion_sheet_holds_every_statistic_as_a_number(app, db_session, reference_dir):
    load_upsides(db_session, reference_dir)
    job = build(db_session, [FOCUS])
    table = job.result[FOCUS]
    ws = openpyxl.load_workbook(operations.workbook_path(job))["focus_group_characterist values"]
    assert [c.value for c in ws[3]] == [
        "Characteristic",
        "Line",
        "Column group",
        "Column",
        "Statistic",
        "Value",
    ]
    found = {(r[0].value, r[3].value, r[4].value): r[5] for r in ws.iter_rows(min_row=4)}
    ulm = "Ulm/Guenzburg, Germany (ULM)"
    age = "Mean age in years (range)"
    # the numbers the printed "52 (48–57)" and "4 (f=3, m=1)" come from
    ages = [m for m in csv.DictReader((reference_dir / "upsides_fgd_members.csv").open())]
    ulm_ages = [int(m["age"]) for m in ages if m["site_code"] == "ULM"]
    assert found[(age, ulm, "mean")].value == pytest.approx(sum(ulm_ages) / len(ulm_ages))
    assert found[(age, ulm, "mean")].number_format == "0"
    assert found[(age, ulm, "minimum")].value == 48
    assert found[(age, ulm, "maximum")].value == 57
    assert found[("N (gender)", ulm, "n")].value == 4
    assert found[("N (gender)", ulm, "n f")].value == 3
    assert found[("N (gender)", ulm, "n m")].value == 1
    assert found[("Date", ulm, "value")].value == datetime(2021, 9, 7)
    assert found[("Date", ulm, "value")].number_format == "d mmmm yyyy"
    assert found[("Duration", ulm, "value")].value == 70
    # one line per value of every cell, none more
    values = sum(
        len([v for v in c["values"] if v is not None]) for r in table["rows"] for c in r["cells"]
    )
    assert len(found) == values


# ------------------------------------------------------------ grouped headers


def test_grouped_headers_are_merged_in_sheet_and_word(app, api_as, db_session, make_participant):
    for site, arm, gender in [
        ("BU", "intervention", "female"),
        ("BU", "control", "male"),
        ("UKE", "intervention", "female"),
        ("UKE", "control", "female"),
    ]:
        make_participant(site, enrolment_date=date(2025, 1, 5), arm=arm, gender=gender)
    job = build(db_session, [BASELINE])
    table = job.result[BASELINE]
    expected = printed_grid(table)
    assert expected[0][:3] == ["Characteristic", "Butabika, Uganda (BU)", None]
    assert expected[0][-1] == "Total" and expected[1][-1] is None

    ws = openpyxl.load_workbook(operations.workbook_path(job))[BASELINE]
    width = len(expected[0])
    grid = sheet_grid(ws, 3, len(expected), width)
    assert grid == expected
    assert merged(ws) == {"A3:A4", "B3:C3", "D3:E3", "F3:F4"}
    assert ws.freeze_panes == "B5"

    coordinator = api_as("coordinator")
    state = coordinator.get(f"/api/v1/summaries/{job.id}").json
    link = state["links"]["documents"][BASELINE]
    document = docx.Document(io.BytesIO(coordinator.get(link).data))
    word = document.tables[0]
    assert docx_grid(word) == expected
    assert word.cell(0, 1)._tc is word.cell(0, 2)._tc  # BU over its two arms
    assert word.cell(0, 0)._tc is word.cell(1, 0)._tc  # the corner over both rows
    assert word.cell(0, 5)._tc is word.cell(1, 5)._tc  # Total over both rows


def test_printed_text_that_looks_like_a_formula_stays_text(app, db_session):
    from trialdm.qualitative.operations import create_session

    with all_sites():
        for location in ("-0.5", "=1+1"):
            create_session(
                db_session,
                "focus_group",
                {
                    "site": "BU",
                    "date": date(2024, 5, 1),
                    "mode": "in_person",
                    "duration_min": 30,
                    "location": location,
                    "members": [],
                },
            )
        db_session.commit()
    job = build(db_session, [FOCUS])
    wb = openpyxl.load_workbook(operations.workbook_path(job))
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    hostile = [c for c in cells if c.value in ("-0.5", "=1+1")]
    assert all(c.data_type == "s" and c.quotePrefix for c in hostile)
    printed = [c for c in hostile if c.parent.title == FOCUS]
    assert sorted(c.value for c in printed) == ["-0.5", "=1+1"]  # and on the numbers sheet


# ------------------------------------------------------------ downloads


def test_export_pages_offer_workbook_and_word(app, make_user, db_session, reference_dir):
    load_upsides(db_session, reference_dir)
    job = build(db_session, [FOCUS, "qualitative_participants"])
    browser = page_as(app, make_user, "coordinator")
    page = browser.get(f"/exports/{job.id}").get_data(as_text=True)
    assert f"/api/v1/summaries/{job.id}/download" in page
    for name in (FOCUS, "qualitative_participants"):
        assert f"/api/v1/summaries/{job.id}/tables/{name}/docx" in page
    preview = browser.get(f"/exports/{job.id}/tables/{FOCUS}").get_data(as_text=True)
    link = f"/api/v1/summaries/{job.id}/tables/{FOCUS}/docx"
    assert link in preview
    response = browser.get(link)
    assert response.status_code == 200
    document = docx.Document(io.BytesIO(response.data))
    assert docx_grid(document.tables[0]) == printed_grid(job.result[FOCUS])


def test_word_download_respects_site_scope_and_job_state(app, api_as, db_session, make_participant):
    make_participant("BU", enrolment_date=date(2025, 4, 2))
    cross = build(db_session, [BASELINE])
    lead = api_as("site_lead", ["BU"])
    assert lead.get(f"/api/v1/summaries/{cross.id}/tables/{BASELINE}/docx").status_code == 404
    own = build(db_session, [BASELINE], scope="BU")
    assert lead.get(f"/api/v1/summaries/{own.id}/tables/{BASELINE}/docx").status_code == 200
    assert lead.get(f"/api/v1/summaries/{own.id}/tables/nonesuch/docx").status_code == 404
    with all_sites():
        queued = operations.CreateSummaryJob("BU", None, None, "x").run(db_session)
    db_session.info.pop("trialdm_pending_tasks", None)
    db_session.commit()
    assert lead.get(f"/api/v1/summaries/{queued.id}/tables/{BASELINE}/docx").status_code == 409
    worker = api_as("research_worker", ["BU"])
    assert worker.get(f"/api/v1/summaries/{own.id}/tables/{BASELINE}/docx").status_code == 403


def test_listing_sheet_and_word_print_listing_then_summary(app, api_as, db_session, reference_dir):
    from tests.summaries_fixtures import load_shanghai

    people = load_shanghai(reference_dir, "PU")
    job = build(db_session, ["participant_listing"], scope="PU")
    table = job.result["participant_listing"]
    expected = printed_grid(table)
    ws = openpyxl.load_workbook(operations.workbook_path(job))["participant_listing"]
    assert [c.value for c in ws[3]] == table["listing"]["columns"]
    assert table["listing"]["columns"][0] == "Participant"
    summary_row = next(r[0].row for r in ws.iter_rows() if r[0].value == "Summary")
    assert summary_row == 4 + len(people) + 1
    grid = sheet_grid(ws, summary_row + 1, len(expected), len(expected[0]))
    assert grid == expected
    assert "40.6 (SD 6.45; range 29-53)" in [cell for row in grid for cell in row]

    coordinator = api_as("coordinator")
    document = docx.Document(
        io.BytesIO(
            coordinator.get(f"/api/v1/summaries/{job.id}/tables/participant_listing/docx").data
        )
    )
    listing, summary = document.tables
    assert len(listing.rows) == 1 + len(people)
    assert [c.text for c in listing.rows[0].cells] == table["listing"]["columns"]
    assert docx_grid(summary) == expected


def test_every_shipped_table_prints_the_same_in_json_sheet_and_word(
    app, api_as, db_session, reference_dir, make_participant
):
    from tests.summaries_fixtures import load_shanghai
    from trialdm.summaries.registry import table_names

    load_upsides(db_session, reference_dir)
    load_shanghai(reference_dir, "PU")
    make_participant("BU", enrolment_date=date(2025, 4, 2), gender="female", arm="control")
    make_participant("BU", enrolment_date=date(2025, 5, 2), gender="male")
    job = build(db_session, table_names())
    wb = openpyxl.load_workbook(operations.workbook_path(job))
    coordinator = api_as("coordinator")
    for name in table_names():
        table = coordinator.get(f"/api/v1/summaries/{job.id}/tables/{name}").json
        expected = printed_grid(table)
        ws = wb[name]
        first = 3
        if table.get("listing"):
            first = 1 + next(r[0].row for r in ws.iter_rows() if r[0].value == "Summary")
        assert sheet_grid(ws, first, len(expected), len(expected[0])) == expected, name
        document = docx.Document(
            io.BytesIO(coordinator.get(f"/api/v1/summaries/{job.id}/tables/{name}/docx").data)
        )
        assert docx_grid(document.tables[-1]) == expected, name
