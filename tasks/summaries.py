"""Summary workbook tasks: thin, by id, idempotent."""

from __future__ import annotations

from trialdm.extensions import celery, db


@celery.task(name="trialdm.summaries.build", bind=True)
def build(self, job_id: int) -> str:
    from trialdm.summaries.operations import build_job

    return build_job(db.session, int(job_id))


@celery.task(name="trialdm.summaries.reconcile", bind=True)
def reconcile(self) -> list[int]:
    from trialdm.summaries.operations import reconcile_jobs

    return reconcile_jobs(db.session)


@celery.task(name="trialdm.summaries.nightly", bind=True)
def nightly(self) -> int | None:
    from trialdm.summaries.operations import create_nightly_job

    job = create_nightly_job(db.session)
    return None if job is None else job.id
