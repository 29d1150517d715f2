"""Panels that other areas add to the participant page (contact timeline, schedule...).

Each panel declares the permission it needs; it is read under the sites where the
user holds it, and left out for those who do not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app
from sqlalchemy.orm import Session

from trialdm.auth.permissions import current_principal
from trialdm.core.scoping import scoped_to


@dataclass(frozen=True)
class Panel:
    name: str
    permission: str
    template: str
    data: Callable[[Session, Any], dict[str, Any] | None]
    order: int = 50


PANELS_KEY = "trialdm.participant_panels"


def add_participant_panel(app: Flask, panel: Panel) -> None:
    """Called by an area's pages when they are registered (``bp.record_once``)."""
    panels = app.extensions.setdefault(PANELS_KEY, [])
    panels.append(panel)
    panels.sort(key=lambda p: p.order)


def participant_panels(session: Session, participant: Any) -> list[tuple[Panel, dict]]:
    principal = current_principal()
    shown = []
    for panel in current_app.extensions.get(PANELS_KEY, []):
        scope, roles = principal.scope_for(panel.permission)
        if not roles or not scope.allows(participant.site_code):
            continue
        with scoped_to(scope):
            data = panel.data(session, participant)
        if data is not None:
            shown.append((panel, data))
    return shown
