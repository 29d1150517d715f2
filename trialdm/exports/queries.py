from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from trialdm.core.errors import N_, Conflict, Message, NotFound
from trialdm.exports.models import ExportJob

SORTABLE = {
    "id": ExportJob.id,
    "created_at": ExportJob.created_at,
    "state": ExportJob.state,
    "scope": ExportJob.scope,
    "format": ExportJob.format,
}


def get_job(session: Session, job_id: int) -> ExportJob:
    """A job of the current scope (site leads: their sites' exports), or 404."""
    job = session.scalar(select(ExportJob).where(ExportJob.id == job_id))
    if job is None:
        raise NotFound(N_("No such export job."))
    return job


def jobs_query(filters: Mapping[str, Any]) -> Select:
    stmt = select(ExportJob)
    for name in ("state", "scope", "format"):
        if filters.get(name):
            stmt = stmt.where(getattr(ExportJob, name) == filters[name])
    return stmt


def finished_job(session: Session, job_id: int) -> ExportJob:
    job = get_job(session, job_id)
    if job.state != "done":
        raise Conflict(
            Message(N_("The export is not ready: the job is %(state)s."), state=job.state)
        )
    return job
