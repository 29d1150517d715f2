from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from trialdm.core.errors import N_, Conflict, Message
from trialdm.core.queries import get_or_404
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
    return get_or_404(session, ExportJob, job_id, missing=N_("No such export job."))


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
