from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from trialdm.core.errors import N_, Conflict, Message, NotFound
from trialdm.core.queries import get_or_404
from trialdm.summaries.models import SummaryJob

SORTABLE = {
    "id": SummaryJob.id,
    "created_at": SummaryJob.created_at,
    "state": SummaryJob.state,
    "scope": SummaryJob.scope,
}


def get_job(session: Session, job_id: int) -> SummaryJob:
    """A job of the current scope (site leads: their sites' jobs), or 404."""
    return get_or_404(session, SummaryJob, job_id, missing=N_("No such summary job."))


def jobs_query(filters: Mapping[str, Any]) -> Select:
    stmt = select(SummaryJob)
    if filters.get("state"):
        stmt = stmt.where(SummaryJob.state == filters["state"])
    if filters.get("scope"):
        stmt = stmt.where(SummaryJob.scope == filters["scope"])
    return stmt


def finished_job(session: Session, job_id: int) -> SummaryJob:
    job = get_job(session, job_id)
    if job.state != "done":
        raise Conflict(
            Message(N_("The workbook is not ready: the job is %(state)s."), state=job.state)
        )
    return job


def job_table(session: Session, job_id: int, name: str) -> dict[str, Any]:
    job = finished_job(session, job_id)
    table = (job.result or {}).get(name)
    if table is None:
        raise NotFound(Message(N_("This job has no table '%(name)s'."), name=name))
    return table
