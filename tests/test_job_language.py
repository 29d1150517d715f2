"""Workbooks and exports are built by a worker in the requester's language: the job
keeps the language of the request, and the build writes the interface texts in it."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date

import openpyxl
import pytest

from tasks.summaries import run_build
from tests.exports_fixtures import probe_trial
from trialdm.exports import operations
from trialdm.exports.models import ExportJob
from trialdm.summaries.models import SummaryJob
from trialdm.summaries.operations import workbook_path

GERMAN = {"Accept-Language": "de"}


def test_workbook_in_the_requesters_language(api_as, make_participant, db_session):
    make_participant("BU", enrolment_date=date(2025, 4, 2))
    coordinator = api_as("coordinator")
    created = coordinator.post(
        "/api/v1/summaries", json={"scope": "all", "tables": ["recruitment"]}, headers=GERMAN
    )
    assert created.status_code == 202, created.json
    assert created.json["language"] == "de"
    # A worker builds it again, outside any request: the language is the job's.
    job = db_session.get(SummaryJob, created.json["id"])
    job.state = "queued"
    db_session.commit()
    assert run_build(db_session, job.id) == "done"
    wb = openpyxl.load_workbook(workbook_path(job))
    assert wb.sheetnames == ["Deckblatt", "Rekrutierung", "Rekrutierung Werte"]
    cover = [
        [c for c in row if c is not None] for row in wb["Deckblatt"].iter_rows(values_only=True)
    ]
    assert cover[0][0].endswith(": Übersichtstabellen")
    assert ["Angefordert von", coordinator.user.email] in cover
    assert ["Kleine Fallzahlen", "nicht unterdrückt"] in cover
    assert ["Blatt", "Tabelle", "Zahlen"] in cover
    assert [
        "Rekrutierung",
        "Rekrutierung und Verbleib nach Standort",
        "Rekrutierung Werte",
    ] in cover
    table = list(wb["Rekrutierung"].iter_rows(values_only=True))
    assert table[0][0] == "Rekrutierung und Verbleib nach Standort"
    numbers = list(wb["Rekrutierung Werte"].iter_rows(values_only=True))
    assert numbers[2][:4] == ("Merkmal", "Zeile", "Spaltengruppe", "Spalte")
    # Data stays as it is; the job's stored tables keep the source texts.
    assert any("BU" in str(cell) for row in table for cell in row)
    english = coordinator.get(f"/api/v1/summaries/{job.id}/tables/recruitment").json
    assert english["title"] == "Recruitment and retention by site"


def test_english_without_a_language(api_as, make_participant, db_session):
    make_participant("BU", enrolment_date=date(2025, 4, 2))
    created = api_as("coordinator").post(
        "/api/v1/summaries", json={"scope": "all", "tables": ["recruitment"]}
    )
    assert created.json["language"] == "en"
    job = db_session.get(SummaryJob, created.json["id"])
    job.language = None  # a job from before the column, or from the schedule
    job.state = "queued"
    db_session.commit()
    assert run_build(db_session, job.id) == "done"
    wb = openpyxl.load_workbook(workbook_path(job))
    assert wb["Cover"]["A1"].value.endswith(": summary tables")


@pytest.fixture
def trial(db_session, make_participant, api_as):
    return probe_trial(db_session, make_participant, api_as)


def test_codebook_and_readme_in_the_requesters_language(trial, api_as, db_session):
    body = {"scope": "all", "format": "csv", "datasets": ["export_probe"]}
    created = api_as("coordinator").post("/api/v1/exports", json=body, headers=GERMAN)
    assert created.status_code == 202, created.json
    assert created.json["language"] == "de"
    # A worker builds it again, outside any request: the language is the job's.
    job = db_session.get(ExportJob, created.json["id"])
    job.state = "queued"
    db_session.commit()
    assert operations.build_job(db_session, job.id) == "done"
    archive = zipfile.ZipFile(operations.archive_path(job))
    codebook = archive.read("codebook.csv").decode("utf-8-sig")
    header = next(csv.reader(io.StringIO(codebook)))
    assert header[:4] == ["Datensatz", "Variable", "Name in der Datei", "Bezeichnung"]
    html = archive.read("codebook.html").decode()
    assert "<h1>Codebuch · " in html and "<th>Datensatz</th>" in html and "lang='de'" in html
    readme = archive.read("README.txt").decode()
    assert ": Datenexport auf Item-Ebene" in readme and "Datensätze (Zeilen):" in readme
    assert "Umfang: Alle Standorte" in readme
    assert "export_probe: 3" in readme  # names and counts as they are
