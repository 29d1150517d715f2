"""``POST /api/`` through the test client: metadata, records out and in, errors as
REDCap sends them, site scoping and the audit trail."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from datetime import date

import pytest
from sqlalchemy import select

from tests.redcap_helpers import BASELINE, BU1_DIAGNOSES, RedcapClient, redcap_token
from tests.seeders.instruments import sync_shipped
from trialdm.auth.models import ApiToken
from trialdm.core.audit import AuditEvent
from trialdm.extensions import limiter
from trialdm.instruments.models import InstrumentResponse
from trialdm.instruments.operations import create_response

SIS = {f"si_{i:02d}": 2 for i in range(1, 11)}


@pytest.fixture
def trial(db_session, make_participant):
    """Two enrolled participants at BU (one with a complete baseline), one at ULM."""
    sync_shipped(db_session)
    db_session.commit()
    # the record's diagnoses, which the baseline's diagnoses items show (derived)
    bu1 = make_participant("BU", enrolment_date=date(2025, 1, 31), diagnoses=BU1_DIAGNOSES)
    bu2 = make_participant("BU", enrolment_date=date(2025, 2, 10), diagnoses=[{"code": "F20"}])
    ulm = make_participant("ULM", enrolment_date=date(2025, 2, 1))
    create_response(
        db_session,
        {
            "participant_id": bu1.id,
            "instrument": "baseline_demographics",
            "event": "T0",
            "status": "complete",
            "collected_on": date(2025, 2, 1),
            "answers": BASELINE,
        },
    )
    create_response(
        db_session,
        {
            "participant_id": bu1.id,
            "instrument": "social_inclusion_scale",
            "event": "T1",
            "collected_on": date(2025, 6, 1),
            "answers": SIS,
        },
    )
    db_session.commit()
    return {"bu1": bu1, "bu2": bu2, "ulm": ulm}


@pytest.fixture
def redcap_as(client, make_user):
    def make(role: str, sites: list[str] | None = None) -> RedcapClient:
        return RedcapClient(client, redcap_token(make_user(role, sites)))

    return make


def test_metadata_starts_with_the_record_id_and_follows_the_dictionary(trial, redcap_as):
    api = redcap_as("research_worker", ["BU"])
    metadata = api.export("metadata")
    assert metadata[0]["field_name"] == "study_id"
    assert metadata[0]["form_name"] == "baseline_demographics"
    by_name = {row["field_name"]: row for row in metadata}
    assert by_name["diagnoses"]["field_type"] == "checkbox"
    assert by_name["si_total"]["field_type"] == "calc"
    assert by_name["year_of_birth"]["text_validation_type_or_show_slider_number"] == "integer"
    # Instruments outside the schedule are not forms of the project.
    assert {row["form_name"] for row in metadata} == {
        "baseline_demographics",
        "social_inclusion_scale",
    }
    only = api.export("metadata", **{"forms[0]": "social_inclusion_scale"})
    assert {row["form_name"] for row in only} == {"social_inclusion_scale"}


def test_events_arms_mapping_instruments_and_groups(trial, redcap_as):
    api = redcap_as("research_worker", ["BU"])
    events = api.export("event")
    assert [e["unique_event_name"] for e in events] == [
        "t0_arm_1",
        "t1_arm_1",
        "t2_arm_1",
        "t3_arm_1",
    ]
    assert events[1]["event_name"] == "T1" and events[1]["custom_event_label"] == "Month 4"
    mapping = api.export("formEventMapping")
    assert {"arm_num": 1, "unique_event_name": "t0_arm_1", "form": "baseline_demographics"} in (
        mapping
    )
    assert not any(
        m["form"] == "baseline_demographics" and m["unique_event_name"] != "t0_arm_1"
        for m in mapping
    )
    assert api.export("arm") == [{"arm_num": 1, "name": "Trial schedule"}]
    assert [i["instrument_name"] for i in api.export("instrument")] == [
        "baseline_demographics",
        "social_inclusion_scale",
    ]
    groups = {g["unique_group_name"] for g in api.export("dag")}
    assert {"bu", "ulm"} <= groups
    names = api.export("exportFieldNames", field="diagnoses")
    assert [n["export_field_name"] for n in names][:2] == [
        "diagnoses___psychosis",
        "diagnoses___bipolar",
    ]
    assert api.post(content="version").get_data(as_text=True) == "14.0.0"
    assert api.export("project")["is_longitudinal"] == 1


def test_record_export_flat_rows_per_event(trial, redcap_as):
    api = redcap_as("research_worker", ["BU"])
    rows = api.records()
    keys = [(r["study_id"], r["redcap_event_name"]) for r in rows]
    bu1, bu2 = trial["bu1"].study_id, trial["bu2"].study_id
    assert keys == [(bu1, "t0_arm_1"), (bu1, "t1_arm_1"), (bu2, "t0_arm_1")]
    first = rows[0]
    assert first["gender"] == "female" and first["year_of_birth"] == "1985"
    assert first["hours_per_week"] == "20.5" and first["years_since_first_contact"] == "6"
    assert first["diagnoses___depression"] == "1" and first["diagnoses___psychosis"] == "0"
    assert first["first_contact_date"] == "2019-03-04"
    assert first["baseline_demographics_complete"] == "2"
    # The scale is designated for T0 but has no data there: status 0, blank answers.
    assert first["social_inclusion_scale_complete"] == "0" and first["si_01"] == ""
    second = rows[1]
    assert second["si_01"] == "2" and second["si_total"] == "18"  # items 3 and 7 reverse-scored
    assert second["social_inclusion_scale_complete"] == "0"
    # Not designated for T1: blank, not "0".
    assert second["baseline_demographics_complete"] == "" and second["gender"] == ""
    assert list(first)[:2] == ["study_id", "redcap_event_name"]


def test_record_exports_are_audited(trial, redcap_as, db_session):
    api = redcap_as("research_worker", ["BU"])
    rows = api.records(**{"events[0]": "t0_arm_1"})
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.entity == "redcap_records")
    ).one()
    assert (event.action, event.source, event.role) == ("export", "redcap-api", "research_worker")
    assert event.user_email.startswith("research_worker.bu")
    assert event.changes == {"format": "json", "rows": 2, "columns": len(rows[0]), "records": 2}


def test_record_export_filters_labels_and_csv(trial, redcap_as):
    api = redcap_as("research_worker", ["BU"])
    bu1 = trial["bu1"].study_id
    rows = api.records(
        **{
            "records[0]": bu1,
            "fields[0]": "gender",
            "fields[1]": "diagnoses",
            "events[0]": "t0_arm_1",
            "rawOrLabel": "label",
            "exportCheckboxLabel": "true",
        }
    )
    assert len(rows) == 1
    row = rows[0]
    assert row["gender"] == "Female"
    assert row["diagnoses___depression"] == "Depression (F32-F33)"
    assert row["diagnoses___psychosis"] == ""
    assert "year_of_birth" not in row and "baseline_demographics_complete" not in row
    text = api.post(
        content="record",
        format="csv",
        type="flat",
        rawOrLabelHeaders="label",
        **{"forms[0]": "baseline_demographics", "records[0]": bu1},
    ).get_data(as_text=True)
    header = next(csv.reader(io.StringIO(text)))
    assert header[:3] == ["Study ID", "Event Name", "Gender"]
    assert "Diagnoses (as recorded by the service) (choice=Other)" in header
    assert header[-1] == "Complete?"


def test_import_creates_updates_and_is_audited(trial, redcap_as, db_session):
    api = redcap_as("research_worker", ["BU"])
    bu2 = trial["bu2"].study_id
    row = {
        "study_id": bu2,
        "redcap_event_name": "t0_arm_1",
        "gender": "male",
        "year_of_birth": "1990",
        "marital_status": "married",
        "living_situation": "alone",
        "employment": "unemployed",
        "diagnoses___psychosis": "1",
        "years_since_first_contact": "3.5",
        "first_contact_date": "04/03/2021",
        "baseline_demographics_complete": "2",
    }
    response = api.import_records([row], dateFormat="DMY", returnContent="ids")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json == [bu2]
    exported = api.records(**{"records[0]": bu2, "events[0]": "t0_arm_1"})[0]
    assert exported["first_contact_date"] == "2021-03-04"
    assert exported["diagnoses___psychosis"] == "1" and exported["gender"] == "male"
    assert exported["baseline_demographics_complete"] == "2"
    stored = db_session.scalar(
        select(InstrumentResponse).where(
            InstrumentResponse.participant_id == trial["bu2"].id,
            InstrumentResponse.instrument_name == "baseline_demographics",
        )
    )
    events = db_session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity == "responses", AuditEvent.entity_id == str(stored.id)
        )
    ).all()
    assert {e.source for e in events} == {"redcap-api"}
    assert any(
        e.action == "answers" and e.changes["employment"] == [None, "unemployed"] for e in events
    )
    # gender is bound to the participant record: the import changed the record, audited there
    record_events = db_session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity == "participants", AuditEvent.entity_id == str(trial["bu2"].id)
        )
    ).all()
    assert any(
        e.source == "redcap-api" and (e.changes or {}).get("gender", [None])[-1] == "male"
        for e in record_events
    )

    # A completed form changes only with a reason; normal mode leaves blanks alone.
    change = {
        "study_id": bu2,
        "redcap_event_name": "t0_arm_1",
        "gender": "diverse",
        "year_of_birth": "",
    }
    refused = api.import_records([change])
    assert refused.status_code == 400
    assert "reason" in refused.json["error"]
    accepted = api.import_records([change], reason="Corrected from the paper form")
    assert accepted.status_code == 200 and accepted.json == {"count": 1}
    again = api.records(**{"records[0]": bu2, "events[0]": "t0_arm_1"})[0]
    assert again["gender"] == "diverse" and again["year_of_birth"] == "1990"
    # the changed gender is the record's, audited there with the import's reason
    last = db_session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity == "participants", AuditEvent.entity_id == str(trial["bu2"].id))
        .order_by(AuditEvent.id.desc())
    ).first()
    assert last.reason == "Corrected from the paper form" and last.source == "redcap-api"
    assert last.changes == {"gender": ["male", "diverse"]}


def test_overwrite_clears_and_reimporting_an_export_changes_nothing(trial, redcap_as, db_session):
    api = redcap_as("research_worker", ["BU"])
    exported = api.records(**{"records[0]": trial["bu1"].study_id})
    changes = select(AuditEvent.id).where(AuditEvent.action != "export")
    before = db_session.scalars(changes).all()
    # The export holds calculated values, the completed baseline and gray statuses (0):
    # importing it again changes nothing and needs no reason.
    same = api.import_records(exported)
    assert same.status_code == 200, same.get_data(as_text=True)
    assert same.json == {"count": 1}
    assert db_session.scalars(changes).all() == before
    t1 = {"study_id": trial["bu1"].study_id, "redcap_event_name": "t1_arm_1", "si_01": ""}
    assert api.import_records([t1]).status_code == 200
    assert api.records(**{"events[0]": "t1_arm_1"})[0]["si_01"] == "2"
    assert api.import_records([t1], overwriteBehavior="overwrite").status_code == 200
    row = api.records(**{"events[0]": "t1_arm_1"})[0]
    assert row["si_01"] == "" and row["si_02"] == "2"


def test_import_is_all_or_nothing_with_redcap_style_errors(trial, redcap_as, db_session):
    api = redcap_as("research_worker", ["BU"])
    bu2 = trial["bu2"].study_id
    good = {"study_id": bu2, "redcap_event_name": "t1_arm_1", "si_01": "1"}
    bad = [
        good,
        {"study_id": bu2, "redcap_event_name": "t2_arm_1", "si_01": "7"},
        {"study_id": bu2, "redcap_event_name": "t3_arm_1", "gender": "male"},
        {"study_id": "NO-SUCH", "redcap_event_name": "t0_arm_1"},
        {"study_id": bu2, "redcap_event_name": "t9_arm_1"},
        {"study_id": trial["bu1"].study_id, "redcap_event_name": "t1_arm_1", "si_total": "3"},
        {"study_id": bu2, "redcap_event_name": "t0_arm_1", "baseline_demographics_complete": "1"},
    ]
    response = api.import_records(bad)
    assert response.status_code == 400
    lines = response.json["error"].splitlines()
    assert any(line.startswith(f'"{bu2}","si_01","7"') for line in lines)
    assert any('"gender","male"' in line and "not designated" in line for line in lines)
    assert any(line.startswith('"NO-SUCH","study_id"') for line in lines)
    assert any('"t9_arm_1"' in line for line in lines)
    assert any('"si_total","3"' in line and "computes 18" in line for line in lines)
    assert any("Unverified" in line for line in lines)
    # Nothing of the good row was saved.
    assert api.records(**{"records[0]": bu2, "events[0]": "t1_arm_1"}) == []
    unknown = api.import_records([{"study_id": bu2, "redcap_event_name": "t0_arm_1", "nope": "1"}])
    assert unknown.status_code == 400
    assert "not found in the project as real data fields: nope" in unknown.json["error"]


def test_errors_as_redcap_sends_them(trial, client, redcap_as):
    missing = client.post("/api/", data={"content": "version"})
    assert missing.status_code == 401 and "error" in missing.json
    bad_format = client.post(
        "/api/", data={"token": "tdm_short", "content": "project", "format": "json"}
    )
    assert bad_format.status_code == 401
    unknown = client.post("/api/", data={"token": "A" * 32, "content": "project", "format": "csv"})
    assert unknown.status_code == 401
    assert unknown.get_data(as_text=True).startswith("ERROR:")
    api = redcap_as("research_worker", ["BU"])
    assert api.post(content="nothing", format="json").status_code == 400
    wrong_field = api.post(content="record", format="json", **{"fields[0]": "nope"})
    assert wrong_field.status_code == 400
    assert wrong_field.json == {
        "error": 'The following values in the parameter "fields" are not valid: nope'
    }
    xml = api.post(content="record", format="xml", returnFormat="xml")
    assert xml.status_code == 400 and "<error>" in xml.get_data(as_text=True)
    assert api.post(content="metadata", format="json", data="[]").status_code == 403
    assert api.post(content="record", action="delete", **{"records[0]": "x"}).status_code == 403
    coordinator = redcap_as("coordinator")
    assert coordinator.records()  # reads every site
    refused = coordinator.import_records([{"study_id": trial["bu2"].study_id}])
    assert refused.status_code == 403
    assert refused.json == {"error": "You do not have API Import/Update privileges"}
    translator = redcap_as("translator", ["BU"])
    assert translator.post(content="record", format="json").status_code == 403


def test_site_scoping_holds_as_in_api_v1(trial, redcap_as):
    ulm = redcap_as("research_worker", ["ULM"])
    rows = ulm.records(exportDataAccessGroups="true")
    assert {r["study_id"] for r in rows} == {trial["ulm"].study_id}
    assert "redcap_data_access_group" not in rows[0]  # a user in a group gets no group column
    hidden = ulm.records(**{"records[0]": trial["bu1"].study_id})
    assert hidden == []
    write = ulm.import_records(
        [{"study_id": trial["bu2"].study_id, "redcap_event_name": "t1_arm_1", "si_01": "1"}]
    )
    assert write.status_code == 400
    assert "No enrolled participant with this study ID at your sites" in write.json["error"]
    coordinator = redcap_as("coordinator")
    every = coordinator.records(exportDataAccessGroups="true")
    assert {r["redcap_data_access_group"] for r in every} >= {"bu", "ulm"}
    moved = redcap_as("admin").import_records(
        [
            {
                "study_id": trial["bu2"].study_id,
                "redcap_event_name": "t0_arm_1",
                "redcap_data_access_group": "ulm",
            }
        ]
    )
    assert moved.status_code == 400 and "keeps its site" in moved.json["error"]


def test_cli_prints_a_redcap_token_stored_hashed(app, db_session, trial, make_user, client):
    user = make_user("site_lead", ["BU"])
    result = app.test_cli_runner().invoke(args=["users", "token", user.email, "--redcap"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert re.fullmatch(r"[0-9A-F]{32}", token)
    stored = db_session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {stored.token_hash, stored.prefix, stored.name}
    rows = RedcapClient(client, token).records()
    assert {r["study_id"] for r in rows} == {trial["bu1"].study_id, trial["bu2"].study_id}
    # The same token is a bearer token on /api/v1.
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json["email"] == user.email


def test_a_user_makes_a_redcap_token_through_the_api(trial, api_as, client):
    api = api_as("research_worker", ["BU"])
    created = api.post("/api/v1/tokens", json={"name": "PyCap", "redcap": True})
    assert created.status_code == 201
    token = created.json["token"]
    assert re.fullmatch(r"[0-9A-F]{32}", token) and created.json["prefix"] == token[:8]
    assert len(RedcapClient(client, token).records()) == 3


def test_csv_import_and_export_with_a_delimiter(trial, redcap_as):
    api = redcap_as("research_worker", ["BU"])
    bu2 = trial["bu2"].study_id
    data = (
        "study_id;redcap_event_name;si_01;si_02;social_inclusion_scale_complete\n"
        f"{bu2};t1_arm_1;1;0;0\n"
    )
    bad = api.post(content="record", format="csv", type="flat", data=data, returnFormat="csv")
    assert bad.status_code == 400
    assert bad.get_data(as_text=True).startswith("ERROR:")  # ';' without csvDelimiter
    saved = api.post(
        content="record", format="csv", type="flat", data=data, csvDelimiter=";", returnFormat="csv"
    )
    assert saved.status_code == 200 and saved.get_data(as_text=True) == "1"
    text = api.post(
        content="record",
        format="csv",
        type="flat",
        csvDelimiter=";",
        **{"records[0]": bu2, "events[0]": "t1_arm_1", "forms[0]": "social_inclusion_scale"},
    ).get_data(as_text=True)
    header, row = text.splitlines()
    assert header.startswith("study_id;redcap_event_name;si_01;si_02;")
    assert row.startswith(f"{bu2};t1_arm_1;1;0;")


def test_failed_tokens_and_busy_tokens_are_rate_limited(app, trial, client, redcap_as, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "3 per minute")
    for _ in range(3):
        assert (
            client.post("/api/", data={"token": "B" * 32, "content": "version"}).status_code == 401
        )
    blocked = client.post("/api/", data={"token": "C" * 32, "content": "version"})
    assert blocked.status_code == 429 and "error" in blocked.json
    limiter.reset()
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "1000 per minute")
    monkeypatch.setitem(app.config, "REDCAP_API_RATE_LIMIT", "2 per minute")
    api = redcap_as("research_worker", ["BU"])
    assert api.post(content="version").status_code == 200
    assert api.post(content="version").status_code == 200
    assert api.post(content="version").status_code == 429
    other = redcap_as("research_worker", ["BU"])  # counted per token
    assert other.post(content="version").status_code == 200


def test_values_are_taken_exactly_or_refused(trial, redcap_as):
    api = redcap_as("research_worker", ["BU"])
    bu2 = trial["bu2"].study_id
    row = {"study_id": bu2, "redcap_event_name": "t0_arm_1"}
    refused = api.import_records(
        [
            {
                **row,
                "hours_per_week": "20.123456789012345678",
                "year_of_birth": "1985.0",
                "first_contact_date": "2021-02-30",
                "gender": "Female",
            }
        ]
    )
    assert refused.status_code == 400
    error = refused.json["error"]
    assert (
        '"hours_per_week","20.123456789012345678","20.123456789012345678 has more digits' in error
    )
    assert '"year_of_birth","1985.0","Must be a whole number."' in error
    assert '"first_contact_date","2021-02-30","Must be a date' in error
    assert '"gender","Female","\'Female\' is not one of the choices' in error
    nested = api.import_records([{**row, "gender": ["female"]}])
    assert nested.status_code == 400 and "not a list or an object" in nested.json["error"]

    # Missing-data codes are values: exported as the code (or its label), read back as codes.
    saved = api.import_records([{**row, "education_years": "refused", "gender": "male"}])
    assert saved.status_code == 200, saved.json
    out = api.records(**{"records[0]": bu2})[0]
    assert out["education_years"] == "refused" and out["diagnoses___not_asked"] == "0"
    assert out["diagnoses___psychosis"] == "1" and out["diagnoses___depression"] == "0"
    labelled = api.records(**{"records[0]": bu2, "rawOrLabel": "label"})[0]
    assert labelled["education_years"] == "Refused" and labelled["gender"] == "Male"
    # diagnoses are derived from the record: neither a missing-data code nor other groups
    both = api.import_records([{**row, "diagnoses___not_asked": "1"}])
    assert both.status_code == 400 and "missing-data code" in both.json["error"]
    other = api.import_records([{**row, "diagnoses___depression": "1"}])
    assert other.status_code == 400 and "participant record" in other.json["error"]
