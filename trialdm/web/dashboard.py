"""The dashboard: one widget per area, added by that area's pages. Each is read under
the sites where the user holds its permission (a translator sees no participant counts).

A widget names the roles whose daily work it is (``daily_for``): those come first for
a person holding such a role, so that on a phone, where the widgets stand in one
column, a research worker sees at-risk participants and due assessments before the
charts, a translator the queue; everything else follows by ``order``, the folded
reminders last."""

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
    daily_for: frozenset[str] = frozenset()

    def is_daily_for(self, principal: Principal) -> bool:
        return bool(self.daily_for.intersection(principal.roles))


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
    # sorted() is stable: within each group the widgets keep their order
    return sorted(shown, key=lambda item: not item[0].is_daily_for(principal))
