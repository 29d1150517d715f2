"""The dashboard: one widget per area, each read under the sites where the user holds
that area's read permission (a translator sees no participant counts)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from trialdm.auth.permissions import Principal
from trialdm.core.scoping import scoped_to


@dataclass(frozen=True)
class Widget:
    name: str
    permission: str
    template: str
    data: Callable[[Session], dict[str, Any] | None]


def participants_widget(session: Session) -> dict[str, Any]:
    from trialdm.participants.queries import counts_by_site_status_arm, enrolments_by_day
    from trialdm.participants.vocabulary import ARMS, STATUSES
    from trialdm.web.charts import enrolment_chart

    columns = [("arm", arm) for arm in ARMS] + [("status", status) for status in STATUSES]
    table: dict[str, dict[tuple[str, str], int]] = {}
    for site, status, arm, n in counts_by_site_status_arm(session):
        row = table.setdefault(site, {})
        row[("arm", arm or "")] = row.get(("arm", arm or ""), 0) + n
        row[("status", status or "")] = row.get(("status", status or ""), 0) + n
        row[("total", "")] = row.get(("total", ""), 0) + n
    totals = {
        key: sum(row.get(key, 0) for row in table.values()) for key in [*columns, ("total", "")]
    }
    return {
        "columns": columns,
        "rows": sorted(table.items()),
        "totals": totals,
        "chart": enrolment_chart(enrolments_by_day(session)),
    }


# In page order; domains add theirs here as their pages land.
WIDGETS: list[Widget] = [
    Widget("participants", "participants.read", "widgets/participants.html", participants_widget),
]


def dashboard_widgets(session: Session, principal: Principal) -> list[tuple[Widget, dict]]:
    shown = []
    for widget in WIDGETS:
        scope, roles = principal.scope_for(widget.permission)
        if not roles or (not scope.every_site and not scope.codes):
            continue
        with scoped_to(scope):
            data = widget.data(session)
        if data is not None:
            shown.append((widget, data))
    return shown
