"""Celery beat entries of the summaries domain, from the settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from celery.schedules import crontab


def beat_schedule(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    hour, minute = (int(part) for part in config["SUMMARY_NIGHTLY_TIME"].split(":"))
    return {
        "summaries-nightly-cross-site": {
            "task": "trialdm.summaries.nightly",
            "schedule": crontab(hour=hour, minute=minute),
        },
        "summaries-reconcile": {
            "task": "trialdm.summaries.reconcile",
            "schedule": float(config["SUMMARY_RECONCILE_SECONDS"]),
        },
    }
