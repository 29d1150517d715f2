"""Celery beat entries of the maintenance domain, from the settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trialdm.maintenance.operations import HEARTBEAT_TASK, STALE_AFTER_INTERVALS


def beat_schedule(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    seconds = float(config["HEARTBEAT_SECONDS"])
    return {
        "maintenance-heartbeat": {
            "task": HEARTBEAT_TASK,
            "schedule": seconds,
            # A heartbeat older than the staleness limit is worthless: it must not pile up while
            # no worker runs and be replayed by the thousand when one starts.
            "options": {"expires": seconds * STALE_AFTER_INTERVALS},
        }
    }
