"""Participant imports too large for a web request: a job row, the upload kept under
UPLOAD_DIR, a Celery task that imports it all or nothing.

The job row is the source of truth, with the lease of :mod:`trialdm.core.jobs`:
a message delivered twice imports once, a dead worker's job is re-queued and
tried at most SUMMARY_MAX_ATTEMPTS times. The participants and the job's ``done``
are committed together and only while the job is still this worker's attempt,
so a late worker whose job was taken over rolls its rows back.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import update
from sqlalchemy.orm import Session

from trialdm.core.audit import audit_context, record_event
from trialdm.core.jobs import FailureTexts, job_lease
from trialdm.core.jobs import claim_job as claim_lease
from trialdm.core.jobs import reconcile_jobs as reconcile_leases
from trialdm.core.models import utcnow
from trialdm.core.scoping import SiteScope, require_site, scoped_to
from trialdm.core.tasks import enqueue
from trialdm.participants.imports import ImportFailed, import_participants
from trialdm.participants.models import ParticipantImportJob

log = logging.getLogger(__name__)
IMPORT_TASK = "trialdm.participants.import"
RECONCILE_TASK = "trialdm.participants.reconcile_imports"
# Progress is written at most this often (seconds); each write is its own transaction.
PROGRESS_EVERY = 2.0


def upload_path(job: ParticipantImportJob) -> Path:
    return Path(current_app.config["UPLOAD_DIR"]) / job.file_name


def create_import_job(
    session: Session,
    text: str,
    rows: int,
    site: str,
    requested_by_id: int | None,
    requested_by: str | None,
    requested_role: str | None,
) -> ParticipantImportJob:
    """Keep the upload and queue its import (sent after commit)."""
    require_site(site)
    data = text.encode("utf-8")
    job = ParticipantImportJob(
        site_code=site,
        state="queued",
        step="Queued",
        requested_by_id=requested_by_id,
        requested_by=requested_by,
        requested_role=requested_role,
        file_name="pending",
        file_bytes=len(data),
        rows=rows,
    )
    session.add(job)
    session.flush()
    job.file_name = f"participant-import-{job.id}.csv"
    folder = Path(current_app.config["UPLOAD_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"{job.file_name}.tmp"
    partial.write_bytes(data)
    partial.replace(upload_path(job))
    record_event(
        session,
        "create",
        "participant_import_job",
        job.id,
        site,
        {"rows": rows, "bytes": len(data)},
    )
    enqueue(session, IMPORT_TASK, job.id)
    return job


class ImportProgress:
    """Rows done and a heartbeat, written in a transaction of their own so the
    import itself stays one transaction. SQLite admits one writer at a time and
    the import holds it, so there the job shows progress only when it ends."""

    def __init__(self, session: Session, job_id: int, rows: int) -> None:
        self.engine = session.get_bind()
        self.job_id = job_id
        self.rows = max(rows, 1)
        self.done = 0
        self.written_at = time.monotonic()
        self.enabled = self.engine.dialect.name != "sqlite"

    def __call__(self, advance: int) -> None:
        self.done += advance
        now = time.monotonic()
        if not self.enabled or now - self.written_at < PROGRESS_EVERY:
            return
        self.written_at = now
        percent = min(99, int(100 * self.done / self.rows))
        with Session(self.engine) as own, own.begin():
            own.execute(
                update(ParticipantImportJob)
                .where(ParticipantImportJob.id == self.job_id)
                .values(
                    progress=percent,
                    step=f"Checked and saved {self.done:,} of {self.rows:,} rows",
                    heartbeat_at=utcnow(),
                )
                .execution_options(synchronize_session=False, trialdm_skip_site_scoping=True)
            )


def _finish(session: Session, job_id: int, attempt: int, **values) -> bool:
    """Write the job's end only if it is still this worker's attempt."""
    changed = session.execute(
        update(ParticipantImportJob)
        .where(
            ParticipantImportJob.id == job_id,
            ParticipantImportJob.state == "running",
            ParticipantImportJob.attempts == attempt,
        )
        .values(finished_at=utcnow(), heartbeat_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    return changed.rowcount == 1


readable_error = FailureTexts(
    database="The database could not be written during the import; please try again.",
    file="The uploaded file could not be read; please upload it again.",
    unexpected="The import stopped with an unexpected error ({error}). "
    "Nothing was imported; the administrators can find the details in the worker log.",
).describe


def run_import_job(session: Session, job_id: int) -> str:
    """Import one job's upload, all rows or none; safe to call again for the same job."""
    if not claim_lease(session, ParticipantImportJob, job_id, job_lease()):
        log.info("participant import %s is not ours to run (done, failed or running)", job_id)
        return "skipped"
    job = session.get(ParticipantImportJob, job_id, populate_existing=True)
    assert job is not None
    attempt, site, path = job.attempts, job.site_code, upload_path(job)
    requester = {
        "user_id": job.requested_by_id,
        "user_email": job.requested_by,
        "role": job.requested_role,
        "source": "import",
    }
    try:
        text = path.read_text(encoding="utf-8-sig")
        progress = ImportProgress(session, job_id, job.rows)
        with scoped_to(SiteScope(codes=frozenset({site}))), audit_context(**requester):
            created = import_participants(
                session, text, site, progress, current_app.config["IMPORT_MAX_ROWS"]
            )
        outcome = {
            "state": "done",
            "progress": 100,
            "step": "Done",
            "created": len(created),
            "first_study_id": created[0].study_id if created else None,
            "last_study_id": created[-1].study_id if created else None,
        }
    except ImportFailed as exc:
        session.rollback()
        problems = [{"line": p.line, "field": p.field, "message": p.message} for p in exc.problems]
        outcome = {"state": "failed", "step": "Failed", "error": exc.detail, "problems": problems}
    except Exception as exc:  # every failure becomes a readable state, not a retry loop
        log.exception("participant import %s failed", job_id)
        session.rollback()
        outcome = {"state": "failed", "step": "Failed", "error": readable_error(exc)}
    if not _finish(session, job_id, attempt, **outcome):
        session.rollback()  # another attempt owns the job now: its rows count, not ours
        return "skipped"
    session.commit()
    path.unlink(missing_ok=True)
    return str(outcome["state"])


def reconcile_import_jobs(session: Session, now: datetime | None = None) -> list[int]:
    """Re-queue imports whose worker died or whose message was lost; give up after
    SUMMARY_MAX_ATTEMPTS with a readable error."""

    def exhausted(attempts: int) -> str:
        return (
            f"The import was interrupted {attempts} times (the worker stopped); nothing "
            "was imported. Please upload the file again or tell the administrators."
        )

    return reconcile_leases(session, ParticipantImportJob, job_lease(), IMPORT_TASK, exhausted, now)
