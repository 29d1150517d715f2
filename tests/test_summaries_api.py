"""Summary jobs over the API: who may build and read what, audit, workbook files."""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select, update

from tasks.summaries import run_build
from trialdm.core import jobs
from trialdm.core.audit import AuditEvent
from trialdm.core.models import utcnow
from trialdm.core.tasks import run_eager_tasks
from trialdm.extensions import celery
from trialdm.summaries import operations
from trialdm.summaries.models import SummaryJob
from trialdm.summaries.registry import table_names


def events(session, action: str, job_id: int) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == action,
                AuditEvent.entity == "summary_job",
                AuditEvent.entity_id == str(job_id),
            )
        )
    )


def test_coordinator_builds_cross_site_workbook(api_as, make_participant, db_session):
    make_participant("BU", enrolment_date=date(2025, 4, 2), gender="female")
    make_participant("ULM", enrolment_date=date(2025, 5, 2), gender="male", arm="control")
    coordinator = api_as("coordinator")
    response = coordinator.post("/api/v1/summaries", json={"scope": "all"})
    assert response.status_code == 202, response.json
    job = response.json
    assert response.headers["Location"] == f"/api/v1/summaries/{job['id']}"
    state = coordinator.get(f"/api/v1/summaries/{job['id']}").json
    assert state["state"] == "done", state
    assert state["progress"] == 100
    assert state["tables"] == table_names()
    assert state["requested_by"] == coordinator.user.email
    download = coordinator.get(state["links"]["download"])
    assert download.status_code == 200
    assert download.mimetype.endswith("spreadsheetml.sheet")
    wb = openpyxl.load_workbook(io.BytesIO(download.data))
    assert wb.sheetnames[0] == "Cover" and wb.sheetnames[1::2] == table_names()
    assert all(name.endswith(" values") for name in wb.sheetnames[2::2])
    assert events(db_session, "create", job["id"])
    assert len(events(db_session, "download", job["id"])) == 1
    table = coordinator.get(f"/api/v1/summaries/{job['id']}/tables/baseline_characteristics").json
    assert [c["label"] for c in table["columns"]][-1] == "Total"
    assert table["rows"][0]["cells"][-1]["values"] == [2]
    missing = coordinator.get(f"/api/v1/summaries/{job['id']}/tables/nonesuch")
    assert missing.status_code == 404


def test_site_lead_builds_own_site_only(api_as, make_participant):
    make_participant("BU", enrolment_date=date(2025, 4, 2))
    make_participant("ULM", enrolment_date=date(2025, 4, 2), occupation="ULM-ONLY-OCCUPATION")
    coordinator = api_as("coordinator")
    cross = coordinator.post("/api/v1/summaries", json={"scope": "all"}).json
    lead = api_as("site_lead", ["BU"])
    assert lead.post("/api/v1/summaries", json={"scope": "all"}).status_code == 403
    assert lead.post("/api/v1/summaries", json={"scope": "ULM"}).status_code == 403
    own = lead.post("/api/v1/summaries", json={"scope": "bu", "tables": ["participant_listing"]})
    assert own.status_code == 202
    assert own.json["scope"] == "BU"
    listing = lead.get(f"/api/v1/summaries/{own.json['id']}/tables/participant_listing").json
    assert "ULM-ONLY-OCCUPATION" not in str(listing)
    assert len(listing["listing"]["rows"]) == 1
    assert lead.get(f"/api/v1/summaries/{cross['id']}").status_code == 404
    assert lead.get(f"/api/v1/summaries/{cross['id']}/download").status_code == 404
    ids = [item["id"] for item in lead.get("/api/v1/summaries").json["items"]]
    assert ids == [own.json["id"]]
    coordinator_ids = [item["id"] for item in coordinator.get("/api/v1/summaries").json["items"]]
    assert coordinator_ids[:2] == [own.json["id"], cross["id"]]


def test_research_workers_may_not_build_or_read(api_as):
    worker = api_as("research_worker", ["BU"])
    assert worker.post("/api/v1/summaries", json={"scope": "BU"}).status_code == 403
    assert worker.get("/api/v1/summaries").status_code == 403


def test_input_errors(api_as):
    coordinator = api_as("coordinator")
    bad = coordinator.post("/api/v1/summaries", json={"scope": "all", "tables": ["nonesuch"]})
    assert bad.status_code == 422
    assert "tables" in bad.json["errors"]
    unknown_site = coordinator.post("/api/v1/summaries", json={"scope": "XX"})
    assert unknown_site.status_code == 422
    assert "scope" in unknown_site.json["errors"]
    extra = coordinator.post("/api/v1/summaries", json={"scope": "all", "format": "csv"})
    assert extra.status_code == 422


def _job(db_session, scope="BU", tables=None) -> SummaryJob:
    job = operations.CreateSummaryJob(scope, tables, None, "test").run(db_session)
    db_session.info.pop("trialdm_pending_tasks", None)
    db_session.commit()
    return job


def test_failure_is_readable(app, db_session, monkeypatch):
    job = _job(db_session)

    def explode(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    import trialdm.summaries.engine as engine

    monkeypatch.setattr(engine, "compute_table", explode)
    assert run_build(db_session, job.id) == "failed"
    db_session.refresh(job)
    assert job.state == "failed"
    assert "ZeroDivisionError" in job.error and "try again" in job.error


def test_rebuild_leaves_one_file_and_done_jobs_are_not_rebuilt(app, db_session):
    job = _job(db_session, tables=["recruitment"])
    assert run_build(db_session, job.id) == "done"
    assert run_build(db_session, job.id) == "skipped"  # a duplicate delivery
    job.state = "queued"
    db_session.commit()
    assert run_build(db_session, job.id) == "done"
    folder = Path(app.config["WORKBOOK_DIR"])
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(f"summary-{job.id}")) == [
        f"summary-{job.id}.xlsx"
    ]
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_reconciler_requeues_a_dead_workers_job(app, db_session):
    job = _job(db_session, tables=["recruitment"])
    lease = app.config["SUMMARY_LEASE_SECONDS"]
    job.state = "running"
    job.attempts = 1
    job.heartbeat_at = utcnow() - timedelta(seconds=lease + 5)
    fresh = _job(db_session, tables=["recruitment"])
    fresh.state = "running"
    fresh.attempts = 1
    fresh.heartbeat_at = utcnow()
    db_session.commit()
    assert run_build(db_session, fresh.id) == "skipped"  # someone holds the lease
    assert operations.reconcile_jobs(db_session) == [job.id]
    db_session.commit()
    job_id = job.id
    run_eager_tasks()  # the task's app context ends the session: read the job again
    job = db_session.get(SummaryJob, job_id)
    assert job.state == "done"
    assert job.attempts == 2


def test_reconciler_gives_up_after_max_attempts(app, db_session):
    job = _job(db_session, tables=["recruitment"])
    job.state = "running"
    job.attempts = app.config["SUMMARY_MAX_ATTEMPTS"]
    job.heartbeat_at = utcnow() - timedelta(days=1)
    db_session.commit()
    assert operations.reconcile_jobs(db_session) == []
    assert job.state == "failed"
    assert "interrupted" in job.error


def _lose_worker(db_session, job_id: int, lease: int) -> None:
    """The job's worker dies: its heartbeat stops and the lease runs out."""
    db_session.execute(
        update(SummaryJob)
        .where(SummaryJob.id == job_id)
        .values(heartbeat_at=utcnow() - timedelta(seconds=lease + 5))
    )
    db_session.commit()


def test_late_worker_after_a_requeue_never_adds_an_attempt_beyond_the_maximum(app, db_session):
    """The interleaving that recorded 4 attempts of 3: the reconciler re-queues a dead
    worker's job, a new worker claims it (the last attempt) and dies too, then the
    first worker's message comes back (acks_late + reject_on_worker_lost)."""
    lease, most = app.config["SUMMARY_LEASE_SECONDS"], app.config["SUMMARY_MAX_ATTEMPTS"]
    job = _job(db_session, tables=["recruitment"])
    job_id = job.id
    for _ in range(most - 1):
        assert operations.claim_job(db_session, job_id)
        _lose_worker(db_session, job_id, lease)
    assert operations.reconcile_jobs(db_session) == [job_id]
    db_session.info.pop("trialdm_pending_tasks", None)  # its message is delivered below
    db_session.commit()
    assert operations.claim_job(db_session, job_id)  # the re-queued message: last attempt
    _lose_worker(db_session, job_id, lease)
    assert run_build(db_session, job_id) == "skipped"  # the redelivered message
    assert db_session.get(SummaryJob, job_id, populate_existing=True).attempts == most
    assert operations.reconcile_jobs(db_session) == []
    db_session.commit()
    job = db_session.get(SummaryJob, job_id, populate_existing=True)
    assert (job.state, job.attempts) == ("failed", most)
    assert f"interrupted {most} times" in job.error


def test_reconciler_leaves_a_job_claimed_after_it_looked(app, db_session, monkeypatch):
    """The reconciler reads a stale job, a late worker claims it before the
    reconciler writes: the worker keeps it and nothing is queued a second time."""
    lease = app.config["SUMMARY_LEASE_SECONDS"]
    job = _job(db_session, tables=["recruitment"])
    job_id = job.id
    assert operations.claim_job(db_session, job_id)
    _lose_worker(db_session, job_id, lease)
    real_update = jobs.update
    claimed = []

    def worker_claims_first(model):
        if not claimed:
            claimed.append("worker")  # the claim below calls update() too
            claimed[0] = jobs.claim_job(db_session, model, job_id, operations.job_lease())
        return real_update(model)

    monkeypatch.setattr(jobs, "update", worker_claims_first)
    assert operations.reconcile_jobs(db_session) == []
    assert claimed == [True]
    assert not db_session.info.get("trialdm_pending_tasks")
    db_session.commit()
    job = db_session.get(SummaryJob, job_id, populate_existing=True)
    assert (job.state, job.attempts) == ("running", 2)


def test_nightly_job_once_a_day_and_on_the_beat(app, db_session):
    first = operations.create_nightly_job(db_session)
    assert first is not None and first.scope == "all" and first.site_code is None
    assert operations.create_nightly_job(db_session) is None
    db_session.info.pop("trialdm_pending_tasks", None)
    schedule = celery.conf.beat_schedule
    assert schedule["summaries-nightly-cross-site"]["task"] == "trialdm.summaries.nightly"
    assert schedule["summaries-reconcile"]["task"] == "trialdm.summaries.reconcile"


@pytest.mark.parametrize(
    "hostile", ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]
)
def test_hostile_text_is_never_a_formula(app, db_session, make_participant, hostile):
    make_participant("BGU", enrolment_date=date(2025, 2, 1), occupation=hostile)
    job = _job(db_session, scope="BGU", tables=["participant_listing"])
    run_build(db_session, job.id)
    wb = openpyxl.load_workbook(operations.workbook_path(job))
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    matching = [c for c in cells if c.value == hostile]
    assert matching and all(c.data_type == "s" for c in matching)


def test_job_lists_read_no_tables(app, api_as, make_participant, db_session):
    """A list of jobs (API and the exports page) reads each job's state, never the
    stored tables of every job; one job's table is still there when asked for."""
    from sqlalchemy import event

    from tests.web_helpers import login
    from trialdm.extensions import db

    make_participant("BU", enrolment_date=date(2025, 4, 2))
    coordinator = api_as("coordinator")
    for _ in range(3):
        assert coordinator.post("/api/v1/summaries", json={"scope": "all"}).status_code == 202
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    page = login(app.test_client(), coordinator.user)
    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        listed = coordinator.get("/api/v1/summaries")
        shown = page.get("/exports")
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert listed.status_code == 200 and len(listed.json["items"]) == 3
    assert shown.status_code == 200
    job_reads = [s for s in statements if "FROM summary_jobs" in s]
    assert job_reads and not any("summary_jobs.result" in s for s in job_reads), job_reads
    job_id = listed.json["items"][0]["id"]
    table = coordinator.get(f"/api/v1/summaries/{job_id}/tables/baseline_characteristics")
    assert table.status_code == 200 and table.json["rows"]


def test_a_builds_progress_is_written_at_most_once_a_second(app, db_session, monkeypatch):
    """Steps closer together than ``every`` are counted, not written (a short build
    writes none); the first step after the interval is written with its percentage."""
    job = _job(db_session, tables=["recruitment"])
    job.state, job.step = "running", "Starting"
    db_session.commit()
    clock = [100.0]
    monkeypatch.setattr(jobs.time, "monotonic", lambda: clock[0])
    seen: list[tuple[int, str]] = []
    progress = jobs.JobProgress(
        db_session, SummaryJob, job.id, steps=4, listener=lambda *a: seen.append(a), every=1.0
    )
    progress("Computing a")
    clock[0] += 0.5
    progress("Computing b")
    db_session.refresh(job)
    assert (job.step, job.progress) == ("Starting", 0)
    clock[0] += 0.6
    progress("Writing a")
    db_session.refresh(job)
    assert (job.step, job.progress) == ("Writing a", 50)
    assert seen == [(0, "Computing a"), (25, "Computing b"), (50, "Writing a")]
