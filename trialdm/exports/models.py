from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from trialdm.core.models import Base, IdMixin, SiteScoped, TimestampMixin, UTCDateTime

STATES = ("queued", "running", "done", "failed")
FORMATS = ("csv", "spss", "stata", "r", "odm", "audit")
LABEL_MODES = ("raw", "labels")
IDENTIFIER_MODES = ("include", "exclude")


class ExportJob(SiteScoped, IdMixin, TimestampMixin, Base):
    """One item-level export (a zip of datasets and their codebook). The row is the
    source of truth: a task may run twice or die, the job row says what happened.

    ``site_code`` is the exported site and NULL for a cross-site export, so the
    central site filter shows site leads only their own site's exports. Not
    :class:`Audited`: creation and downloads are recorded as audit events, progress
    updates are bookkeeping."""

    __audit_exempt__ = "job bookkeeping; requests and downloads are audit events"

    __tablename__ = "export_jobs"
    __table_args__ = (
        CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name="state"),
    )

    # Overrides SiteScoped: NULL for the cross-site ("all") export.
    site_code: Mapped[str | None] = mapped_column(
        String(8), ForeignKey("sites.code", ondelete="RESTRICT"), index=True, nullable=True
    )
    scope: Mapped[str] = mapped_column(String(8))
    format: Mapped[str] = mapped_column(String(8))
    datasets: Mapped[list[str]] = mapped_column(JSON, default=list)
    labels: Mapped[str] = mapped_column(String(8), default="raw")
    identifiers: Mapped[str] = mapped_column(String(8), default="include")
    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    step: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
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
    # The requester's language: the worker writes the readme and codebook in it.
    language: Mapped[str | None] = mapped_column(String(16))
    # dataset name -> {"rows": n, "variables": n, "left_out": [...]} of the finished export
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
