"""Each export format read back with an independent reader and compared with what
was entered: pyreadstat for .sav and .dta, the R script's text, lxml for ODM."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pyreadstat
import pytest
from lxml import etree

from tests.exports_fixtures import FULL, HEBREW, PROBE, export, probe_trial, store_probe
from trialdm.instruments.definitions import parse_definition
from trialdm.instruments.operations import create_response, sync_instruments

ODM_NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@pytest.fixture
def trial(db_session, make_participant, api_as):
    return probe_trial(db_session, make_participant, api_as)


def extract(archive, name: str, tmp_path: Path) -> Path:
    path = tmp_path / name
    path.write_bytes(archive.read(name))
    return path


def by_study_id(frame) -> dict[str, dict]:
    return {row["study_id"]: row for row in frame.to_dict("records")}


def test_spss_file_has_values_labels_and_declared_missing(trial, api_as, tmp_path):
    _, archive = export(api_as("coordinator"), scope="all", format="spss")
    assert "export_probe.sav" in archive.namelist() and "participants.sav" in archive.namelist()
    frame, meta = pyreadstat.read_sav(
        str(extract(archive, "export_probe.sav", tmp_path)), user_missing=True
    )
    rows = by_study_id(frame)
    full, sparse = rows[trial.full_id], rows[trial.sparse_id]
    assert full["comment"] == HEBREW and full["nickname"] == "Dana"
    assert full["sessions"] == 12 and full["weight"] == 71.5 and full["wellbeing"] == 4
    assert full["visit_date"] == date(2025, 6, 1) and full["collected_on"] == date(2025, 6, 2)
    assert full["mood"] == 1 and full["housed"] == 1
    assert [full[f"supports___{c}"] for c in ("family", "friends", "peer")] == [1, 0, 1]
    assert sparse["sessions"] == -9 and sparse["mood"] == -7 and sparse["visit_date_missing"] == -8
    assert math.isnan(sparse["weight"]) and sparse["housed"] == 0
    labels = meta.variable_value_labels
    assert labels["mood"] == {1: "Good", 2: "Bad", -7: "Not asked", -8: "Don't know", -9: "Refused"}
    assert labels["supports___peer"][1] == "Checked"
    assert labels["wellbeing"][5] == "Very good"
    assert meta.column_names_to_labels["supports___peer"] == "Supports: Peer worker"
    assert meta.column_names_to_labels["mood"] == "Mood"
    missing = {r["lo"] for r in meta.missing_ranges["sessions"]}
    assert missing == {-9, -8, -7}
    # Without user_missing, SPSS's declared missing values read as missing.
    plain, _ = pyreadstat.read_sav(str(tmp_path / "export_probe.sav"))
    assert math.isnan(by_study_id(plain)[trial.sparse_id]["sessions"])


def test_stata_file_has_values_labels_and_missing_codes(trial, api_as, tmp_path):
    _, archive = export(api_as("coordinator"), scope="all", format="stata")
    frame, meta = pyreadstat.read_dta(str(extract(archive, "export_probe.dta", tmp_path)))
    rows = by_study_id(frame)
    full, sparse = rows[trial.full_id], rows[trial.sparse_id]
    assert full["comment"] == HEBREW
    assert full["sessions"] == 12 and full["weight"] == 71.5
    assert (
        full["visit_date"] == date(2025, 6, 1)
        and meta.original_variable_types["visit_date"] == "%td"
    )
    assert full["mood"] == 1 and [full[f"supports___{c}"] for c in ("family", "peer")] == [1, 1]
    assert sparse["sessions"] == -9 and sparse["mood"] == -7 and sparse["visit_date_missing"] == -8
    assert math.isnan(sparse["weight"]) and math.isnan(sparse["visit_date"])
    assert meta.variable_value_labels["mood"] == {
        1: "Good",
        2: "Bad",
        -7: "Not asked",
        -8: "Don't know",
        -9: "Refused",
    }
    assert meta.column_names_to_labels["sessions"] == "Sessions attended"
    do_file = archive.read("missing_codes.do").decode()
    assert 'use "export_probe.dta", clear' in do_file
    mvdecode = next(line for line in do_file.splitlines() if line.startswith("mvdecode sessions"))
    assert "mood" in mvdecode and "visit_date_missing" in mvdecode and " comment" not in mvdecode
    assert mvdecode.endswith("mv(-7=.a \\ -8=.b \\ -9=.c)")
    assert "-9 = Refused (.c after missing_codes.do)" in archive.read("codebook.csv").decode()


def test_stata_files_read_back_with_pandas_too(trial, api_as, tmp_path):
    """A second reader of the .dta files (pandas has its own parser, not ReadStat):
    shared texts, Hebrew, dates, blanks, codes with their labels, every dataset."""
    import pandas as pd

    _, archive = export(api_as("coordinator"), scope="all", format="stata")
    for name in (n for n in archive.namelist() if n.endswith(".dta")):
        with pd.io.stata.StataReader(extract(archive, name, tmp_path)) as reader:
            frame = reader.read(convert_categoricals=False)
            assert reader.data_label  # every file carries its dataset's title
    with pd.io.stata.StataReader(extract(archive, "export_probe.dta", tmp_path)) as reader:
        frame = reader.read(convert_categoricals=False)
        labels = reader.value_labels()
        variable_labels = reader.variable_labels()
    rows = {row["study_id"]: row for row in frame.to_dict("records")}
    full, sparse = rows[trial.full_id], rows[trial.sparse_id]
    assert full["comment"] == HEBREW and full["site"] == "BU" and full["event"] == "T1"
    assert full["sessions"] == 12 and full["weight"] == 71.5 and full["mood"] == 1
    assert full["visit_date"] == pd.Timestamp(2025, 6, 1)
    assert sparse["sessions"] == -9 and sparse["mood"] == -7
    assert math.isnan(sparse["weight"]) and pd.isna(sparse["visit_date"])
    assert labels["mood"] == {1: "Good", 2: "Bad", -7: "Not asked", -8: "Don't know", -9: "Refused"}
    assert variable_labels["sessions"] == "Sessions attended"


def test_stat_files_with_long_runs_of_blanks_and_codes(
    api_as, db_session, make_participant, tmp_path
):
    """ReadStat infers a column's type from its values: a date or coded column that
    starts with hundreds of blanks or missing codes must still be a date or number."""
    store_probe(db_session)
    for n in range(150):
        person = make_participant("BU", enrolment_date=date(2025, 2, 1))
        # the answers as the API receives them (JSON)
        answers: dict = {"sessions": {"missing": "refused"}} if n < 149 else {"sessions": 4}
        if n == 149:
            answers["visit_date"] = "2025-05-05"
        create_response(
            db_session,
            {
                "participant_id": person.id,
                "instrument": "export_probe",
                "event": "T1",
                "status": "incomplete",
                "collected_on": date(2025, 6, 2),
                "answers": answers,
            },
        )
    db_session.commit()
    for fmt, suffix, read in (
        ("stata", "dta", pyreadstat.read_dta),
        ("spss", "sav", pyreadstat.read_sav),
    ):
        _, archive = export(
            api_as("coordinator"), scope="BU", format=fmt, datasets=["export_probe"]
        )
        frame, _ = read(str(extract(archive, f"export_probe.{suffix}", tmp_path)))
        last = frame.to_dict("records")[-1]
        assert last["sessions"] == 4 and last["visit_date"] == date(2025, 5, 5)
        refused = frame["sessions"].isna() if fmt == "spss" else frame["sessions"] == -9
        assert refused.sum() == 149  # SPSS reads its declared missing values as missing


def test_stata_names_over_32_characters_are_mapped_in_the_codebook(
    db_session, api_as, tmp_path, make_participant
):
    long_name = "how_many_peer_support_sessions_did_you_attend"
    long_label = "How many peer-support sessions did you attend in the last four months, " * 2
    probe_long = {**PROBE, "version": 2, "fields": [*PROBE["fields"]]}
    probe_long["fields"].append({"name": long_name, "type": "integer", "label": long_label.strip()})
    store_probe(db_session)
    sync_instruments(db_session, [parse_definition(probe_long, "x")], {"export_probe": "x"})
    db_session.commit()
    person = make_participant("BU", enrolment_date=date(2025, 2, 1))
    api = api_as("research_worker", ["BU"])
    answers = {"answers": {long_name: 7}, "status": "incomplete", "collected_on": "2025-06-02"}
    body = {"participant_id": person.id, "instrument": "export_probe", "event": "T1", **answers}
    assert api.post("/api/v1/responses", json=body).status_code == 201
    _, archive = export(
        api_as("coordinator"), scope="all", format="stata", datasets=["export_probe"]
    )
    frame, meta = pyreadstat.read_dta(str(extract(archive, "export_probe.dta", tmp_path)))
    short = [name for name in frame.columns if name.startswith("how_many")]
    assert len(short) == 1 and len(short[0]) <= 32
    assert frame[short[0]].tolist() == [7]
    assert len(meta.column_names_to_labels[short[0]]) == 80
    codebook = archive.read("codebook.csv").decode("utf-8-sig")
    line = next(row for row in codebook.splitlines() if row.startswith(f"export_probe,{long_name}"))
    assert short[0] in line and "label shortened" in line
    assert "instrument_version" in frame.columns and frame["instrument_version"].tolist() == [2]


def test_r_export_has_the_csv_files_and_a_script_with_factors(trial, api_as):
    _, archive = export(api_as("coordinator"), scope="all", format="r", datasets=["export_probe"])
    assert {"export_probe.csv", "read_data.R", "codebook.csv"} <= set(archive.namelist())
    script = archive.read("read_data.R").decode()
    assert 'export_probe <- read_dataset(\n  "export_probe.csv"' in script
    assert '"mood" = list(levels = c("good", "bad"), labels = c("Good", "Bad"))' in script
    assert '"sessions" = "integer"' in script and '"weight" = "numeric"' in script
    assert '"comment" = "Comment"' in script
    assert 'as.Date(export_probe[["visit_date"]])' in script
    assert "Dana" in archive.read("export_probe.csv").decode("utf-8-sig")


def test_odm_file_holds_metadata_and_every_value(trial, api_as):
    _, archive = export(
        api_as("coordinator"), scope="all", format="odm", datasets=["export_probe", "participants"]
    )
    assert "participants.csv" in archive.namelist()  # tables travel beside the ODM file
    root = etree.fromstring(archive.read("odm.xml"))
    assert root.tag == "{http://www.cdisc.org/ns/odm/v1.3}ODM"
    assert root.get("ODMVersion") == "1.3.2" and root.get("FileType") == "Snapshot"
    mdv = root.find("odm:Study/odm:MetaDataVersion", ODM_NS)
    form = mdv.find("odm:FormDef[@OID='F.export_probe']", ODM_NS)
    assert form is not None
    t1 = mdv.find("odm:StudyEventDef[@OID='SE.T1']", ODM_NS)
    assert t1.find("odm:FormRef[@FormOID='F.export_probe']", ODM_NS) is not None
    item = mdv.find("odm:ItemDef[@OID='I.export_probe.mood']", ODM_NS)
    assert item.get("DataType") == "text"
    question = {
        t.get(XML_LANG): t.text for t in item.findall("odm:Question/odm:TranslatedText", ODM_NS)
    }
    assert question == {"en": "Mood", "he": "מצב רוח"}
    codes = mdv.find("odm:CodeList[@OID='CL.export_probe.mood']", ODM_NS)
    good = codes.find("odm:CodeListItem[@CodedValue='good']/odm:Decode", ODM_NS)
    assert {t.get(XML_LANG): t.text for t in good} == {"en": "Good", "he": "טוב"}
    sessions = mdv.find("odm:ItemDef[@OID='I.export_probe.sessions']", ODM_NS)
    assert sessions.get("DataType") == "integer"
    checks = {
        c.get("Comparator"): c.find("odm:CheckValue", ODM_NS).text
        for c in sessions.findall("odm:RangeCheck", ODM_NS)
    }
    assert checks == {"GE": "0", "LE": "50"}
    locations = root.findall("odm:AdminData/odm:Location", ODM_NS)
    assert {loc.get("OID") for loc in locations} >= {"LOC.BU", "LOC.ULM"}

    subjects = {
        s.get("SubjectKey"): s for s in root.findall("odm:ClinicalData/odm:SubjectData", ODM_NS)
    }
    assert set(subjects) == {trial.full_id, trial.sparse_id, trial.other_id}
    full = subjects[trial.full_id]
    assert full.find("odm:SiteRef", ODM_NS).get("LocationOID") == "LOC.BU"
    event = full.find("odm:StudyEventData", ODM_NS)
    assert event.get("StudyEventOID") == "SE.T1"
    group = event.find("odm:FormData[@FormOID='F.export_probe']/odm:ItemGroupData", ODM_NS)
    values = {
        i.get("ItemOID").removeprefix("I.export_probe."): i.get("Value")
        for i in group.findall("odm:ItemData", ODM_NS)
    }
    assert values["comment"] == HEBREW and values["nickname"] == FULL["nickname"]
    assert values["sessions"] == "12" and values["weight"] == "71.5"
    assert values["visit_date"] == "2025-06-01" and values["mood"] == "good"
    assert (values["supports___family"], values["supports___friends"]) == ("1", "0")
    assert values["housed"] == "1" and values["wellbeing"] == "4"
    assert values["status"] == "complete" and values["collected_on"] == "2025-06-02"
    sparse_items = subjects[trial.sparse_id].findall(".//odm:ItemData", ODM_NS)
    sparse = {
        i.get("ItemOID").removeprefix("I.export_probe."): i.get("Value") for i in sparse_items
    }
    assert sparse["sessions"] == "-9" and sparse["visit_date_missing"] == "-8"
    assert "weight" not in sparse  # blank: no ItemData


def test_dta_writer_streams_long_and_repeated_texts(tmp_path):
    """Texts longer than the shared ones are stored per cell; both readers agree."""
    from datetime import datetime

    import pandas as pd

    from trialdm.exports.datasets import Variable
    from trialdm.exports.dta import SHARED_LIMIT, write_dta
    from trialdm.exports.writers import NamedVariable
    from trialdm.instruments.definitions import Missing

    long = "ארוך " * 30
    variables = [
        Variable("site", "Site", "string"),
        Variable("note", "Note", "string"),
        Variable("when", "When", "date"),
        Variable("n", "Count", "integer"),
        Variable("arm", "Arm", "code", choices=(("a", "A"), ("b", "B"))),
    ]
    rows = [
        (f"S{i % 3}", f"{long}{i}" if i % 2 else None, date(2025, 1, 1 + i % 28), i, "ab"[i % 2])
        for i in range(SHARED_LIMIT // 20)
    ]
    rows.append(("S0", Missing("refused"), None, Missing("dont_know"), None))
    path = tmp_path / "t.dta"
    named = [NamedVariable(v, v.name) for v in variables]
    assert write_dta(path, "Test", named, iter(rows), datetime(2025, 6, 1, 12, 30)) == len(rows)
    frame, meta = pyreadstat.read_dta(str(path))
    other = pd.read_stata(path, convert_categoricals=False)
    for read in (frame, other):
        assert len(read) == len(rows)
        assert read["site"].tolist()[:4] == ["S0", "S1", "S2", "S0"]
        assert read["note"][1] == f"{long}1" and read["note"][2] == ""
        assert read["n"][7] == 7 and read["arm"][7] == 2
        assert read["note"].iloc[-1] == "-9" and read["n"].iloc[-1] == -8
    assert frame["when"][3] == date(2025, 1, 4) and math.isnan(frame["arm"].iloc[-1])
    assert meta.variable_value_labels["arm"] == {1: "A", 2: "B"}
    assert meta.file_label == "Test"
