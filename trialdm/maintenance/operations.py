"""Heartbeats: Celery beat and a worker each leave the time of their last tick."""

from __future__ import annotations

import os
import socket
from datetime import datetime

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, scoped_session

from trialdm.core.models import utcnow
from trialdm.maintenance.models import ServiceHeartbeat

HEARTBEAT_TASK = "trialdm.maintenance.heartbeat"
BEAT = "beat"
WORKER = "worker"
# A heartbeat older than this many intervals means its process is gone.
STALE_AFTER_INTERVALS = 3


def record_heartbeat(bind: Session | scoped_session | Connection, name: str) -> None:
    """Upsert the tick of ``name`` (one row each, so the table never grows)."""
    table = ServiceHeartbeat.__table__
    values = {"name": name, "at": utcnow(), "by": f"{socket.gethostname()}:{os.getpid()}"}
    dialect = bind.get_bind().dialect.name if hasattr(bind, "get_bind") else bind.dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.name], set_={"at": values["at"], "by": values["by"]}
    )
    bind.execute(statement)


def last_heartbeat(bind: Session | Connection, name: str) -> tuple[datetime, str] | None:
    row = bind.execute(
        select(ServiceHeartbeat.at, ServiceHeartbeat.by).where(ServiceHeartbeat.name == name)
    ).first()
    return None if row is None else (row.at, row.by)
