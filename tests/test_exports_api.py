"""Export jobs over the API: CSV with codebook, who may export what, identifiers left
out, the audit-trail export, downloads in the audit trail, re-queue and repeats."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.exports_fixtures import HEBREW, PROBE, export, probe_trial
from trialdm.core.audit import AuditEvent
from trialdm.core.models import utcnow
from trialdm.exports import operations
from trialdm.exports.models import ExportJob


@pytest.fixture
def trial(db_session, make_participant, api_as):
    return probe_trial(db_session, make_participant, api_as)


def read_csv(archive, name: str) -> list[dict[str, str]]:
    text = archive.read(name).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def events(session, action: str, job_id: int) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == action,
                AuditEvent.entity == "export_job",
                AuditEvent.entity_id == str(job_id),
            )
        )
    )


def test_csv_export_holds_every_answer_and_its_codebook(trial, api_as, db_session):
    coordinator = api_as("coordinator")
    job, archive = export(coordinator, scope="all", format="csv", datasets=["export_probe"])
    assert job["progress"] == 100 and job["result"]["export_probe"]["rows"] == 3
    assert sorted(archive.namelist()) == [
        "README.txt",
        "codebook.csv",
        "codebook.html",
        "export_probe.csv",
    ]
    rows = {row["study_id"]: row for row in read_csv(archive, "export_probe.csv")}
    full = rows[trial.full_id]
    assert list(full)[:7] == [
        "study_id",
        "site",
        "arm",
        "event",
        "instrument_version",
        "status",
        "collected_on",
    ]
    assert (full["site"], full["arm"], full["event"]) == ("BU", "intervention", "T1")
    assert (full["instrument_version"], full["status"]) == ("1", "complete")
    assert full["collected_on"] == "2025-06-02"
    assert full["nickname"] == "Dana"
    assert full["comment"] == HEBREW
    assert (full["sessions"], full["weight"]) == ("12", "71.5")
    assert full["visit_date"] == "2025-06-01" and full["visit_date_missing"] == ""
    assert full["mood"] == "good"
    assert [full[f"supports___{c}"] for c in ("family", "friends", "peer")] == ["1", "0", "1"]
    assert (full["housed"], full["wellbeing"]) == ("1", "4")
    sparse = rows[trial.sparse_id]
    assert sparse["sessions"] == "-9"  # refused
    assert (sparse["visit_date"], sparse["visit_date_missing"]) == ("", "-8")  # don't know
    assert sparse["mood"] == "-7"  # not asked
    assert [sparse[f"supports___{c}"] for c in ("family", "friends", "peer")] == ["-9"] * 3
    assert sparse["housed"] == "0"
    assert sparse["comment"] == "" and sparse["weight"] == "" and sparse["wellbeing"] == ""
    assert rows[trial.other_id]["site"] == "ULM"

    book = {row["variable"]: row for row in read_csv(archive, "codebook.csv")}
    assert book["mood"]["choices (code = label)"] == "good = Good | bad = Bad"
    assert book["mood"]["values in .sav/.dta (number = label)"].startswith("1 = Good | 2 = Bad")
    assert book["supports___peer"]["label"] == "Supports: Peer worker"
    assert book["sessions"]["unit"] == "sessions"
    assert (book["sessions"]["minimum"], book["sessions"]["maximum"]) == ("0", "50")
    assert "-9 = Refused" in book["sessions"]["missing-data codes"]
    assert book["nickname"]["identifier"] == "yes"
    assert book["wellbeing"]["choices (code = label)"] == "1 = Very poor | 5 = Very good"
    assert book["visit_date"]["instrument"] == "export_probe"
    html = archive.read("codebook.html").decode()
    assert "Supports: Peer worker" in html and "<script" not in html
    readme = archive.read("README.txt").decode()
    assert coordinator.user.email in readme and "export_probe: 3" in readme


def test_labels_instead_of_codes(trial, api_as):
    _, archive = export(
        api_as("coordinator"), scope="all", format="csv", datasets=["export_probe"], labels="labels"
    )
    rows = {row["study_id"]: row for row in read_csv(archive, "export_probe.csv")}
    full, sparse = rows[trial.full_id], rows[trial.sparse_id]
    assert (full["mood"], full["arm"], full["housed"]) == ("Good", "Intervention", "Yes")
    assert full["supports___friends"] == "Unchecked" and full["supports___peer"] == "Checked"
    assert full["wellbeing"] == "4"  # an unlabelled scale point stays a number
    assert (sparse["sessions"], sparse["mood"]) == ("Refused", "Not asked")


def test_identifiers_left_out_and_named_in_the_readme(trial, api_as):
    job, archive = export(
        api_as("coordinator"),
        scope="all",
        format="csv",
        datasets=["export_probe", "participants"],
        identifiers="exclude",
    )
    probe = read_csv(archive, "export_probe.csv")
    assert "nickname" not in probe[0] and "Dana" not in archive.read("export_probe.csv").decode()
    assert "occupation" not in read_csv(archive, "participants.csv")[0]
    assert job["result"]["export_probe"]["left_out"] == ["nickname"]
    readme = archive.read("README.txt").decode()
    assert "export_probe: nickname" in readme
    assert "participants: occupation, withdrawal_reason, profession" in readme
    variables = {row["variable"] for row in read_csv(archive, "codebook.csv")}
    assert "nickname" not in variables and "comment" in variables


def test_site_lead_exports_own_site_only(trial, api_as, db_session):
    coordinator = api_as("coordinator")
    cross, _ = export(coordinator, scope="all", format="csv", datasets=["export_probe"])
    lead = api_as("site_lead", ["BU"])
    for scope in ("all", "ULM"):
        refused = lead.post("/api/v1/exports", json={"scope": scope, "format": "csv"})
        assert refused.status_code == 403
        assert refused.mimetype == "application/problem+json"
    job, archive = export(lead, scope="bu", format="csv")
    assert job["scope"] == "BU"
    for name in archive.namelist():
        assert b"ULM-ONLY-COMMENT" not in archive.read(name)
        assert trial.other_id.encode() not in archive.read(name)
    probe = read_csv(archive, "export_probe.csv")
    assert {row["study_id"] for row in probe} == {trial.full_id, trial.sparse_id}
    assert lead.get(f"/api/v1/exports/{cross['id']}").status_code == 404
    assert lead.get(f"/api/v1/exports/{cross['id']}/download").status_code == 404
    assert [item["id"] for item in lead.get("/api/v1/exports").json["items"]] == [job["id"]]
    worker = api_as("research_worker", ["BU"])
    assert worker.post("/api/v1/exports", json={"scope": "BU", "format": "csv"}).status_code == 403
    assert worker.get("/api/v1/exports").status_code == 403


def test_every_download_is_audited(trial, api_as, db_session):
    coordinator = api_as("coordinator")
    job, _ = export(coordinator, scope="BU", format="csv", datasets=["participants"])
    assert len(events(db_session, "create", job["id"])) == 1
    coordinator.get(job["links"]["download"])
    downloads = events(db_session, "download", job["id"])
    assert len(downloads) == 2  # export() downloaded once, then once more
    assert {e.user_email for e in downloads} == {coordinator.user.email}
    assert downloads[0].site_code == "BU" and downloads[0].changes["format"] == "csv"


def test_bad_requests_are_field_errors_and_save_nothing(trial, api_as, db_session):
    coordinator = api_as("coordinator")
    bad = [
        ({"scope": "all", "format": "sas"}, "format"),
        ({"scope": "all", "format": "csv", "datasets": ["nonesuch"]}, "datasets"),
        ({"scope": "all", "format": "stata", "labels": "labels"}, "labels"),
        ({"scope": "XX", "format": "csv"}, "scope"),
        ({"scope": "all", "format": "audit", "datasets": ["participants"]}, "datasets"),
    ]
    for body, field in bad:
        response = coordinator.post("/api/v1/exports", json=body)
        assert response.status_code == 422, (body, response.json)
        assert field in response.json["errors"], response.json
    assert coordinator.get("/api/v1/exports").json["meta"]["total"] == 0


def test_audit_trail_export(trial, api_as):
    coordinator = api_as("coordinator")
    job, archive = export(coordinator, scope="BU", format="audit")
    assert job["datasets"] == ["audit"]
    rows = read_csv(archive, "audit.csv")
    created = [r for r in rows if r["entity"] == "responses" and r["field"] == "status"]
    assert created and all(r["site"] == "BU" for r in rows)
    assert created[0]["new"] == '"complete"' and created[0]["old"] == ""
    assert created[0]["source"] == "api" and created[0]["role"] == "research_worker"
    assert created[0]["at_utc"].endswith("+00:00")


def test_lost_worker_is_requeued_and_a_repeat_builds_once(trial, api_as, db_session, app):
    coordinator = api_as("coordinator")
    job = ExportJob(
        site_code=None,
        scope="all",
        format="csv",
        datasets=["participants"],
        labels="raw",
        identifiers="include",
        state="running",
        attempts=1,
        heartbeat_at=utcnow() - timedelta(seconds=app.config["SUMMARY_LEASE_SECONDS"] + 5),
    )
    db_session.add(job)
    db_session.commit()
    assert operations.reconcile_jobs(db_session) == [job.id]
    db_session.commit()  # the eager task runs after the commit, as in production
    from trialdm.core.tasks import run_eager_tasks

    run_eager_tasks()
    done = coordinator.get(f"/api/v1/exports/{job.id}").json
    assert done["state"] == "done" and done["attempts"] == 2, done
    assert operations.build_job(db_session, job.id) == "skipped"
    assert coordinator.get(f"/api/v1/exports/{job.id}").json["attempts"] == 2


def test_identifier_flag_is_validated_and_kept_with_the_version():
    from trialdm.instruments.definitions import DefinitionError, parse_definition

    data = {**PROBE, "fields": [{**PROBE["fields"][0], "identifier": "yes"}]}
    with pytest.raises(DefinitionError) as failed:
        parse_definition(data, "probe.toml")
    assert "probe.toml: fields.nickname.identifier: must be true or false" in str(failed.value)
    parsed = parse_definition(PROBE, "probe.toml")
    assert parsed.field("nickname").identifier and not parsed.field("comment").identifier
    again = parse_definition(parsed.to_dict(), "stored")
    assert again.field("nickname").identifier


def test_a_field_whose_type_changed_between_versions_is_refused_up_front(trial, api_as, db_session):
    from trialdm.instruments.definitions import parse_definition
    from trialdm.instruments.operations import sync_instruments

    fields = [{**f, "type": "text"} if f["name"] == "sessions" else f for f in PROBE["fields"]]
    fields = [
        {
            k: v
            for k, v in f.items()
            if not (f["name"] == "sessions" and k in ("min", "max", "units"))
        }
        for f in fields
    ]
    changed = parse_definition({**PROBE, "version": 2, "fields": fields}, "v2")
    sync_instruments(db_session, [changed], {"export_probe": "v2"})
    db_session.commit()
    coordinator = api_as("coordinator")
    refused = coordinator.post(
        "/api/v1/exports", json={"scope": "all", "format": "csv", "datasets": ["export_probe"]}
    )
    assert refused.status_code == 422, refused.json
    assert "sessions" in refused.json["detail"] and "datasets" in refused.json["errors"]
    assert coordinator.get("/api/v1/exports").json["meta"]["total"] == 0
