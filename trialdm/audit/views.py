"""The history of one record as a page: who changed what, old -> new, and why.

Pages of each area call :func:`render_history` from a route of their own (so the
record is first looked up under the user's sites); the events come from the same
query as the API's audit trail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import render_template

from trialdm.audit.queries import history
from trialdm.extensions import db


def render_history(
    entity: str, entity_id: Any, *, title: str, back: str, labels: Mapping[str, Any]
) -> str:
    events = history(db.session, entity, entity_id)
    return render_template(
        "audit/history.html", events=events, title=title, back=back, labels=labels
    )
