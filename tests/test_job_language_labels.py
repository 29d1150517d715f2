"""A workbook and a codebook built in German or Hebrew hold no English interface
text: every cell that reads the same as in the English build is data (site names,
study IDs, printed numbers, diagnoses as the vocabulary names them), and the sheet
names are translated and valid Excel names in every shipped language."""

from __future__ import annotations

import csv
import io
import re
import zipfile

import openpyxl
import pytest
from flask_babel import force_locale

from tasks.summaries import run_build
from tests.exports_fixtures import probe_trial
from tests.summaries_fixtures import load_shanghai
from tests.test_summaries_output import build
from tests.test_summaries_qualitative import load_upsides
from trialdm.exports import operations as exports
from trialdm.exports.models import ExportJob
from trialdm.summaries import operations
from trialdm.summaries.registry import table_names
from trialdm.summaries.sheets import cover_name, sheet_names
from trialdm.web.i18n import LANGUAGES

# Data and symbols that read the same in every language.
SYMBOLS = {"n", "N", "%", "Q1", "Q3", "SD", "api", "UPSIDES", "Dr Coordinator", "online"}
# Diagnoses as the ICD-10 vocabulary (WHO's English titles) and the published
# Shanghai listing write them; a trial adds their translations to its vocabulary.
VOCABULARY = {
    "Schizophrenia",
    "Bipolar disorder combined with physical disorders",
    "Epileptic mental disorder",
    "Obsessive-compulsive disorder",
}


# German words spelled as the English ones.
SAME_IN_GERMAN = {"Population", "Software", "Intervention", "Interview", "Online", "Status"}


def is_data(text: str) -> bool:
    return (
        text in SYMBOLS
        or text in VOCABULARY
        or bool(re.search(r"\d", text))  # printed cells, study IDs, dates, P1/F
        or bool(re.fullmatch(r"[A-Z]{2,3}", text))  # site codes
        or bool(re.fullmatch(r"n [a-z]{1,2}", text))  # n f: the breakdown's parts
        or bool(re.fullmatch(r"[^,]+, [^,]+ \([A-Z]{2,3}\)", text))  # site, country (BU)
        or ("," in text and "_" in text)  # the cover's list of table names
        or text.startswith(("Department", "Recovery College", "Hospital", "Centre", "Muhimbili"))
    )


def cells(path) -> list[list[list]]:
    workbook = openpyxl.load_workbook(path)
    return [[list(row) for row in ws.iter_rows(values_only=True)] for ws in workbook.worksheets]


@pytest.mark.parametrize("language", ["de", "he"])
def test_workbook_has_no_english_outside_data(app, db_session, reference_dir, language):
    load_upsides(db_session, reference_dir)
    load_shanghai(reference_dir, "PU")
    job = build(db_session, table_names())
    english = cells(operations.workbook_path(job))
    english_names = openpyxl.load_workbook(operations.workbook_path(job)).sheetnames
    job.language, job.state = language, "queued"
    db_session.commit()
    assert run_build(db_session, job.id) == "done"
    translated_book = openpyxl.load_workbook(operations.workbook_path(job))
    translated = cells(operations.workbook_path(job))

    # Every sheet name translated (none equals its English name), and the cover first.
    assert not set(translated_book.sheetnames) & set(english_names)
    assert len(translated) == len(english)
    same = set()
    for sheet_en, sheet_tr in zip(english, translated, strict=True):
        assert len(sheet_en) == len(sheet_tr)  # the same layout, cell for cell
        for row_en, row_tr in zip(sheet_en, sheet_tr, strict=True):
            for en, tr in zip(row_en, row_tr, strict=True):
                if isinstance(en, str) and en == tr and re.search("[A-Za-z]", en):
                    same.add(en)
    if language == "de":
        same -= SAME_IN_GERMAN
    assert {text for text in same if not is_data(text)} == set()


def test_english_sheet_names_are_the_table_names(app):
    with app.test_request_context():
        names = sheet_names(table_names())
        assert cover_name() == "Cover"
    assert [n.table for n in names] == table_names()
    assert names[0].numbers == f"{table_names()[0]} values"


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_sheet_names_are_valid_excel_names_in_every_language(app, language):
    with app.test_request_context(), force_locale(language):
        names = [cover_name()]
        for pair in sheet_names(table_names()):
            names += [pair.table, pair.numbers]
    assert len({n.lower() for n in names}) == len(names)
    for name in names:
        assert 0 < len(name) <= 31, name
        assert not re.search(r"[\[\]:*?/\\]", name), name
        assert not name.startswith("'") and not name.endswith("'"), name


def codebook(archive_path) -> list[list[str]]:
    with zipfile.ZipFile(archive_path) as archive:
        text = archive.read("codebook.csv").decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


# Columns of the codebook that are interface text: label, type, unit, choices,
# values in .sav/.dta, missing-data codes, identifier, note.
TEXT_COLUMNS = (3, 4, 5, 6, 7, 10, 13, 14)
# Instrument fields of the probe without a Hebrew or German label keep the
# instrument's own (English) wording; they are the instrument's data.
UNTRANSLATED_FIELDS = ("sessions", "weight", "visit_date", "supports", "housed", "wellbeing")
RESPONSE_HEAD = {"study_id", "site", "arm", "event", "instrument_version", "status", "collected_on"}
# What stays as it is inside a translated cell: codes before " = ", file names and
# notations.
KEEP = re.compile(
    r"missing_codes\.do|\.[abc]\b|YYYY-MM-DD|JSON|UTC|ISO 8601|HH:MM|\.sav/\.dta|PSW|"
    r"\b[a-z_]+ = |\bSD\b"
)


@pytest.fixture
def trial(db_session, make_participant, api_as):
    return probe_trial(db_session, make_participant, api_as)


@pytest.mark.parametrize("language", ["de", "he"])
def test_codebook_has_no_english_outside_data(trial, api_as, db_session, language):
    coordinator = api_as("coordinator")
    built = {}
    for asked in ("en", language):
        body = {"scope": "all", "format": "spss"}
        created = coordinator.post("/api/v1/exports", json=body, headers={"Accept-Language": asked})
        assert created.status_code == 202, created.json
        job = db_session.get(ExportJob, created.json["id"])
        job.state = "queued"
        db_session.commit()
        assert exports.build_job(db_session, job.id) == "done"
        built[asked] = codebook(exports.archive_path(job))
    english, translated = built["en"], built[language]
    assert len(english) == len(translated)
    assert translated[0] != english[0]
    left = []
    for row_en, row_tr in zip(english[1:], translated[1:], strict=True):
        assert row_tr[:3] == row_en[:3]  # dataset, variable, name in the file: data
        probe_field = row_en[0] == "export_probe" and row_en[1] not in RESPONSE_HEAD
        if probe_field and (language == "de" or row_en[1].startswith(UNTRANSLATED_FIELDS)):
            continue  # the probe has Hebrew labels for three fields, German for none
        for column in TEXT_COLUMNS:
            en, tr = row_en[column], row_tr[column]
            if not re.search("[A-Za-z]", KEEP.sub("", en)):
                continue
            if language == "he" and re.search("[A-Za-z]", KEEP.sub("", tr)):
                left.append((row_en[1], tr))
            elif en == tr and tr not in SAME_IN_GERMAN:
                left.append((row_en[1], tr))  # the same word in German and English
    assert left == []
    mood = next(r for r in translated if r[1] == "mood")
    if language == "he":
        assert mood[3] == "מצב רוח" and "good = טוב" in mood[6]
        visit = next(r for r in translated if r[1] == "visit_date_missing")
        assert visit[3] == "Visit date: קוד נתון חסר"  # the instrument's words, ours translated


def test_english_codebook_reads_as_before(trial, api_as, db_session):
    created = api_as("coordinator").post(
        "/api/v1/exports", json={"scope": "all", "format": "csv", "datasets": ["export_probe"]}
    )
    job = db_session.get(ExportJob, created.json["id"])
    job.state = "queued"
    db_session.commit()
    assert exports.build_job(db_session, job.id) == "done"
    rows = {r[1]: r for r in codebook(exports.archive_path(job))}
    assert rows["supports___family"][6] == "0 = Unchecked | 1 = Checked"
    assert rows["visit_date_missing"][3] == "Visit date: missing-data code"
    assert rows["nickname"][13] == "yes" and rows["housed"][4] == "integer"
    assert rows["mood"][10].startswith("-7 = Not asked (.a after missing_codes.do) | -8 = ")
