"""Celery beat entries of the quality domain, from the settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from celery.schedules import crontab


def beat_schedule(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    hour, minute = (int(part) for part in config["QUALITY_NIGHTLY_TIME"].split(":"))
    return {
        "quality-nightly-checks": {
            "task": "trialdm.quality.nightly",
            "schedule": crontab(hour=hour, minute=minute),
        }
    }
