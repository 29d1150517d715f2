"""Beat's tick: when the beat process sends the heartbeat task it records ``beat``
(a worker records ``worker`` when it runs the task), so ``trialdm check`` sees a
stopped beat even when workers are busy, and a stopped worker even on a broker that
cannot broadcast a ping (the embedded SQLite one)."""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import after_task_publish, beat_init

from trialdm.maintenance.operations import BEAT, HEARTBEAT_TASK, record_heartbeat

log = logging.getLogger(__name__)
_in_beat = {"running": False}


def _on_beat_init(sender: Any = None, **kwargs: Any) -> None:
    _in_beat["running"] = True


def _on_publish(sender: Any = None, **kwargs: Any) -> None:
    if not _in_beat["running"] or sender != HEARTBEAT_TASK:
        return
    from trialdm.extensions import celery, db

    try:
        with celery.flask_app.app_context(), db.engine.begin() as conn:
            record_heartbeat(conn, BEAT)
    except Exception:  # beat keeps scheduling when its tick cannot be stored
        log.exception("could not record beat's heartbeat")


def install_beat_heartbeat() -> None:
    beat_init.connect(_on_beat_init, weak=False, dispatch_uid="trialdm-beat-init")
    after_task_publish.connect(_on_publish, weak=False, dispatch_uid="trialdm-beat-tick")
