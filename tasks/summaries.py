"""Summary workbook tasks: thin, by id, idempotent. The build task is the edge of
a build: it claims the job, builds it, and commits once."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from trialdm.extensions import celery, db

log = logging.getLogger(__name__)


def run_build(session: Session, job_id: int) -> str:
    """Claim, build and commit one summary job: ``done``, ``failed`` or ``skipped``
    (done, failed, or someone else's build). Safe to call again for the same job."""
    from trialdm.summaries.operations import build_job, claim_job, fail_job

    if not claim_job(session, job_id):  # its own short transaction
        log.info("summary job %s is not ours to build (done, failed or running)", job_id)
        return "skipped"
    try:
        build_job(session, job_id)
        session.commit()
        return "done"
    except Exception as exc:  # every failure becomes a readable state, not a retry loop
        log.exception("summary job %s failed", job_id)
        session.rollback()
        fail_job(session, job_id, exc)
        session.commit()
        return "failed"


@celery.task(name="trialdm.summaries.build", bind=True)
def build(self, job_id: int) -> str:
    return run_build(db.session, int(job_id))


@celery.task(name="trialdm.summaries.reconcile", bind=True)
def reconcile(self) -> list[int]:
    from trialdm.summaries.operations import reconcile_jobs

    return reconcile_jobs(db.session)


@celery.task(name="trialdm.summaries.nightly", bind=True)
def nightly(self) -> int | None:
    from trialdm.summaries.operations import create_nightly_job

    job = create_nightly_job(db.session)
    return None if job is None else job.id
