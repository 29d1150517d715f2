"""Liveness ticks of the service's processes, one row per process kind."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from trialdm.core.models import Base, UTCDateTime, utcnow


class ServiceHeartbeat(Base):
    """The last time Celery beat sent its heartbeat task (``beat``) and the last time
    a worker ran it (``worker``); ``trialdm check`` reads their age."""

    __audit_exempt__ = "liveness ticks of processes, overwritten every minute; no trial data"

    __tablename__ = "service_heartbeats"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Host name and process id of the process that wrote the tick.
    by: Mapped[str] = mapped_column(String(255), default="")
