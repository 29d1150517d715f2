"""Maintenance tasks: thin."""

from __future__ import annotations

from trialdm.extensions import celery, db


@celery.task(name="trialdm.maintenance.heartbeat")
def heartbeat() -> None:
    from trialdm.maintenance.operations import WORKER, record_heartbeat

    record_heartbeat(db.session, WORKER)
