"""Participant import tasks: thin, by id, idempotent."""

from __future__ import annotations

from trialdm.extensions import celery, db


@celery.task(name="trialdm.participants.import", bind=True)
def import_upload(self, job_id: int) -> str:
    from trialdm.participants.import_jobs import run_import_job

    return run_import_job(db.session, int(job_id))


@celery.task(name="trialdm.participants.reconcile_imports", bind=True)
def reconcile_imports(self) -> list[int]:
    from trialdm.participants.import_jobs import reconcile_import_jobs

    return reconcile_import_jobs(db.session)
