"""Celery beat entries of the participants domain, from the settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def beat_schedule(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    # Same cadence as the summary jobs' reconciler: imports share their lease.
    return {
        "participant-imports-reconcile": {
            "task": "trialdm.participants.reconcile_imports",
            "schedule": float(config["SUMMARY_RECONCILE_SECONDS"]),
        },
    }
