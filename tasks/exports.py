"""Export tasks: thin, by id, idempotent."""

from __future__ import annotations

from trialdm.extensions import celery, db


@celery.task(name="trialdm.exports.build", bind=True)
def build(self, job_id: int) -> str:
    from trialdm.exports.operations import build_job

    return build_job(db.session, int(job_id))


@celery.task(name="trialdm.exports.reconcile", bind=True)
def reconcile(self) -> list[int]:
    from trialdm.exports.operations import reconcile_jobs

    return reconcile_jobs(db.session)
