"""Celery beat entries of the exports domain, from the settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def beat_schedule(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    # Same cadence as the summary jobs' reconciler: exports share their lease.
    return {
        "exports-reconcile": {
            "task": "trialdm.exports.reconcile",
            "schedule": float(config["SUMMARY_RECONCILE_SECONDS"]),
        },
    }
