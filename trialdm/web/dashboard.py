"""The dashboard: one widget per area, added by that area's pages. Each is read under
the sites where the user holds its permission (a translator sees no participant counts)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app
from sqlalchemy.orm import Session

from trialdm.auth.permissions import Principal
from trialdm.core.scoping import scoped_to

WIDGETS_KEY = "trialdm.dashboard_widgets"


@dataclass(frozen=True)
class Widget:
    name: str
    permission: str
    template: str
    data: Callable[[Session], dict[str, Any] | None]
    order: int = 50


def add_widget(app: Flask, widget: Widget) -> None:
    """Called by an area's pages when they are registered (``bp.record_once``)."""
    widgets = app.extensions.setdefault(WIDGETS_KEY, [])
    widgets.append(widget)
    widgets.sort(key=lambda w: w.order)


def dashboard_widgets(session: Session, principal: Principal) -> list[tuple[Widget, dict]]:
    shown = []
    for widget in current_app.extensions.get(WIDGETS_KEY, []):
        scope, roles = principal.scope_for(widget.permission)
        if not roles or (not scope.every_site and not scope.codes):
            continue
        with scoped_to(scope):
            data = widget.data(session)
        if data is not None:
            shown.append((widget, data))
    return shown
