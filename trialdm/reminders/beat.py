"""The Celery beat schedule of reminders: one dispatcher, often; it decides per site
(in the site's time zone) whether the day's scan is due, so beat itself stays in UTC."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def beat_schedule(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        "reminders-dispatch": {
            "task": "trialdm.reminders.dispatch",
            "schedule": float(config["REMINDER_BEAT_SECONDS"]),
            # A dispatch that waited longer than one period is superseded by the next.
            "options": {"expires": float(config["REMINDER_BEAT_SECONDS"])},
        }
    }
