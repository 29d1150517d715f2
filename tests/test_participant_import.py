import io
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trialdm.core.audit import AuditEvent
from trialdm.participants.models import Participant, ParticipantImportJob

GOOD = """category,gender,year_of_birth,enrolment_date,consent_date,consent_version,arm,diagnoses
service_user,female,1980,2025-02-01,2025-02-01,1.0,intervention,F20;other:hearing voices
service_user,male,1990,2025-02-03,2025-02-02,1.0,control,F32
psw,female,1975,,,,,
"""

BAD = """category,gender,year_of_birth,enrolment_date,consent_date,consent_version,arm
service_user,female,1980,2025-02-01,2025-02-01,1.0,intervention
service_user,alien,1990,2025-02-03,2025-02-02,1.0,control
service_user,male,1930,2025-02-03,2025-02-04,1.0,control
"""


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Participant))


def upload(api, text: str, site: str = "BU"):
    return api.client.post(
        "/api/v1/participants/import",
        data={"site": site, "file": (io.BytesIO(text.encode()), "p.csv")},
        headers={"Authorization": f"Bearer {api.token}"},
        content_type="multipart/form-data",
    )


def test_upload_imports_every_row_and_audits_as_import(api_as, db_session):
    lead = api_as("site_lead", ["BU"])
    response = upload(lead, GOOD)
    assert response.status_code == 201, response.json
    assert response.json == {"created": 3, "study_ids": ["BU-0001", "BU-0002", "BU-PSW-01"]}
    sources = set(
        db_session.scalars(select(AuditEvent.source).where(AuditEvent.entity == "participants"))
    )
    assert sources == {"import"}


def test_one_bad_row_imports_nothing_and_reports_each_problem(api_as, db_session):
    lead = api_as("site_lead", ["BU"])
    before = count(db_session)
    response = upload(lead, BAD)
    assert response.status_code == 422
    errors = response.json["errors"]
    assert "gender" in errors["line 3"][0]
    assert any("year_of_birth" in m for m in errors["line 4"])
    assert any("consent_date" in m for m in errors["line 4"])
    assert "line 2" not in errors
    assert count(db_session) == before


def test_unknown_column_and_other_site(api_as):
    lead = api_as("site_lead", ["BU"])
    unknown = upload(lead, "category,gender,age,name\npsw,female,30,Alice\n")
    assert unknown.json["errors"]["line 1"] == ["name: Unknown column."]
    assert upload(lead, GOOD, site="ULM").status_code == 403
    assert upload(api_as("research_worker", ["BU"]), GOOD).status_code == 403


def test_cli_import_is_all_or_nothing(app, tmp_path, db_session):
    good = tmp_path / "good.csv"
    good.write_text(GOOD)
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD)
    runner = app.test_cli_runner()
    before = count(db_session)
    failed = runner.invoke(args=["import", "participants", str(bad), "--site", "BU"])
    assert failed.exit_code == 1
    assert "Nothing imported; 3 problem(s)" in failed.output
    assert "line 3: gender:" in failed.output
    assert count(db_session) == before
    ok = runner.invoke(args=["import", "participants", str(good), "--site", "BU"])
    assert ok.exit_code == 0, ok.output
    assert "imported 3 participants" in ok.output
    assert count(db_session) == before + 3


def _rows(n: int, start_year: int = 1970) -> str:
    lines = ["category,gender,year_of_birth,enrolment_date,consent_date,consent_version,arm"]
    for i in range(n):
        year = start_year + i % 30
        lines.append(f"service_user,female,{year},2025-02-01,2025-02-01,1.0,control")
    return "\n".join(lines) + "\n"


@pytest.fixture
def small_sync(app, monkeypatch):
    """Imports above 5 rows run as a job (eager Celery: the real task path)."""
    monkeypatch.setitem(app.config, "IMPORT_SYNC_MAX_ROWS", 5)


def test_large_import_runs_as_a_job_with_progress_and_audit(small_sync, api_as, db_session, app):
    lead = api_as("site_lead", ["BU"])
    response = upload(lead, _rows(40))
    assert response.status_code == 202, response.json
    location = response.headers["Location"]
    assert location == f"/api/v1/participants/imports/{response.json['id']}"
    job = lead.get(location).json
    assert job["state"] == "done", job
    assert (job["rows"], job["created"], job["progress"], job["attempts"]) == (40, 40, 100, 1)
    assert (job["first_study_id"], job["last_study_id"]) == ("BU-0001", "BU-0040")
    assert count(db_session) == 40
    audited = db_session.scalars(
        select(AuditEvent).where(AuditEvent.entity == "participants", AuditEvent.action == "insert")
    ).all()
    assert len(audited) == 40
    assert {(e.source, e.user_email) for e in audited} == {("import", lead.user.email)}
    assert not list(Path(app.config["UPLOAD_DIR"]).glob("participant-import-*"))
    other_site = api_as("site_lead", ["ULM"])
    assert other_site.get(location).status_code == 404


def test_large_import_with_a_bad_row_imports_nothing_and_names_line_and_field(
    small_sync, api_as, db_session
):
    text = _rows(10) + "service_user,alien,1990,2025-02-03,2025-02-02,1.0,control\n"
    lead = api_as("site_lead", ["BU"])
    response = upload(lead, text)
    assert response.status_code == 202, response.json
    job = lead.get(response.headers["Location"]).json
    assert job["state"] == "failed" and job["created"] == 0
    assert job["error"].startswith("Nothing was imported")
    assert [(p["line"], p["field"]) for p in job["problems"]] == [(12, "gender")]
    assert count(db_session) == 0


def test_limits_are_checked_before_any_work(api_as, db_session, app, monkeypatch):
    lead = api_as("site_lead", ["BU"])
    monkeypatch.setitem(app.config, "IMPORT_MAX_ROWS", 3)
    too_many = upload(lead, _rows(4) + "service_user,alien,,,,,\n")
    assert too_many.status_code == 413, too_many.json
    assert "at most 3 are imported" in too_many.json["detail"]
    assert "gender" not in str(too_many.json)  # refused before the rows were read
    monkeypatch.setitem(app.config, "IMPORT_MAX_ROWS", 100)
    monkeypatch.setitem(app.config, "IMPORT_MAX_BYTES", 100)
    too_big = upload(lead, _rows(4))
    assert too_big.status_code == 413, too_big.json
    assert too_big.json["errors"]["file"] == ["Larger than 100 bytes; split the file."]
    assert count(db_session) == 0
    assert not db_session.scalars(select(ParticipantImportJob)).all()


def test_import_job_runs_once_and_a_late_worker_adds_nothing(small_sync, api_as, db_session):
    from trialdm.core.tasks import run_eager_tasks
    from trialdm.extensions import celery
    from trialdm.participants import import_jobs

    lead = api_as("site_lead", ["BU"])
    celery.conf.task_always_eager = False  # keep the message; deliver it by hand twice
    sent = []
    original = celery.send_task
    celery.send_task = lambda name, args=None, **kw: sent.append((name, args))
    try:
        response = upload(lead, _rows(8))
    finally:
        celery.conf.task_always_eager = True
        celery.send_task = original
    run_eager_tasks()
    assert response.status_code == 202 and sent == [
        (import_jobs.IMPORT_TASK, [response.json["id"]])
    ]
    job_id = response.json["id"]
    assert import_jobs.run_import_job(db_session, job_id) == "done"
    assert import_jobs.run_import_job(db_session, job_id) == "skipped"  # a duplicate delivery
    assert count(db_session) == 8
    job = db_session.get(ParticipantImportJob, job_id, populate_existing=True)
    assert (job.state, job.attempts, job.created) == ("done", 1, 8)


def test_worker_whose_job_was_taken_over_commits_nothing(
    small_sync, api_as, db_session, app, monkeypatch
):
    """A worker outlives its lease; the reconciler re-queues the job and another
    worker claims it. When the first one ends, its rows are rolled back."""
    from sqlalchemy import update

    from trialdm.participants import import_jobs

    lead = api_as("site_lead", ["BU"])
    monkeypatch.setattr(import_jobs, "enqueue", lambda *args: None)  # no worker yet
    response = upload(lead, _rows(8))
    job_id = response.json["id"]
    real_import = import_jobs.import_participants

    def outlived_lease(session, *args, **kwargs):
        created = real_import(session, *args, **kwargs)
        # Meanwhile another worker claimed the job (the lease had run out).
        session.execute(
            update(ParticipantImportJob)
            .where(ParticipantImportJob.id == job_id)
            .values(attempts=ParticipantImportJob.attempts + 1)
        )
        return created

    monkeypatch.setattr(import_jobs, "import_participants", outlived_lease)
    assert import_jobs.run_import_job(db_session, job_id) == "skipped"
    assert count(db_session) == 0
    monkeypatch.setattr(import_jobs, "import_participants", real_import)
    job = db_session.get(ParticipantImportJob, job_id, populate_existing=True)
    # The simulated takeover was part of the rolled-back transaction: only the claim stays.
    assert (job.state, job.attempts) == ("running", 1)
