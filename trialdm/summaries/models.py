from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from trialdm.core.models import Base, IdMixin, SiteScoped, TimestampMixin, UTCDateTime

STATES = ("queued", "running", "done", "failed")


class SummaryJob(SiteScoped, IdMixin, TimestampMixin, Base):
    __audit_exempt__ = "job bookkeeping; requests and downloads are audit events"
    """One workbook build. The row is the source of truth for the build's state:
    tasks may run twice or die, the job row says what happened.

    ``site_code`` is the site of a per-site build and NULL for the cross-site one,
    so the central site filter shows site leads only their own site's jobs.
    Not :class:`Audited`: creation and downloads are recorded as audit events,
    progress updates are bookkeeping."""

    __tablename__ = "summary_jobs"
    __table_args__ = (
        CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name="state"),
    )

    # Overrides SiteScoped: NULL for the cross-site ("all") workbook.
    site_code: Mapped[str | None] = mapped_column(
        String(8), ForeignKey("sites.code", ondelete="RESTRICT"), index=True, nullable=True
    )
    scope: Mapped[str] = mapped_column(String(8))
    tables: Mapped[list[str]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    step: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    trigger: Mapped[str] = mapped_column(String(16), default="api")
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    requested_by: Mapped[str | None] = mapped_column(String(254))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Lease: a running job whose heartbeat is older than SUMMARY_LEASE_SECONDS
    # belongs to a dead worker and is re-queued by the reconciler.
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    data_read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    file_name: Mapped[str | None] = mapped_column(String(200))
    # The requester's language: the worker writes the workbook's texts in it.
    language: Mapped[str | None] = mapped_column(String(16))
    # name -> the table as JSON (aggregates whole; the listing capped): megabytes for
    # a cross-site job, so loaded only when one job's tables are read, never for lists.
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, deferred=True)
