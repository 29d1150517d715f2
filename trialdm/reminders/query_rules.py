"""Reminder rules of data-quality queries (trialdm.quality): one statement per scan.

An open query waits for the site: the site team is reminded once a week (ISO week
of the site's day) while it stays open longer than REMINDER_QUERY_DAYS days. An
answered query waits for whoever opened it (a monitor, a coordinator, a site lead)
to close or re-open it: they are reminded once a week likewise.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from trialdm.core.errors import N_
from trialdm.reminders.rules import Finding, Rule, ScanContext, iso_week, register, site_rows
from trialdm.reminders.texts import Text, text


def _queries(session: Session, scan: ScanContext, status: str):
    from trialdm.participants.models import Participant
    from trialdm.quality.models import DataQuery

    days = int(scan.config["REMINDER_QUERY_DAYS"])
    # the start of the site's day, as UTC, is close enough for a week-long reminder
    before = datetime.combine(scan.local_date - timedelta(days=days), time.min, tzinfo=UTC)
    since = DataQuery.opened_at if status == "open" else DataQuery.answered_at
    return site_rows(
        session,
        scan,
        f"queries_{status}",
        lambda: (
            select(
                DataQuery.id,
                DataQuery.field,
                DataQuery.question,
                DataQuery.opened_by_id,
                Participant.study_id,
            )
            .join(Participant, Participant.id == DataQuery.participant_id)
            .where(DataQuery.status == status, since <= before)
            .order_by(DataQuery.id)
        ),
        DataQuery.site_code,
    )


def _about(row) -> Text | str:
    if row.field:
        return text(N_("%(study_id)s (%(field)s)"), study_id=row.study_id, field=row.field)
    return row.study_id


def _page(query_id: int) -> str:
    return f"/quality/queries/{query_id}"


@register
class QueryOpen(Rule):
    """A query is open longer than REMINDER_QUERY_DAYS days: the site should answer."""

    name = "query_open"
    label = N_("Query waiting for an answer")
    settings = ("REMINDER_QUERY_DAYS",)

    def findings(self, session: Session, scan: ScanContext) -> Iterable[Finding]:
        week = iso_week(scan.local_date)
        return [
            Finding(
                "query",
                str(row.id),
                week,
                text(
                    N_("Query %(id)s on %(about)s waits for an answer"),
                    id=str(row.id),
                    about=_about(row),
                ),
                row.question[:500],
                _page(row.id),
            )
            for row in _queries(session, scan, "open")
        ]


@register
class QueryAnswered(Rule):
    """A query was answered longer than REMINDER_QUERY_DAYS days ago: whoever opened
    it should close or re-open it (a check's query: the site lead)."""

    name = "query_answered"
    label = N_("Answered query waiting to be closed")
    audience = ()
    settings = ("REMINDER_QUERY_DAYS",)

    def findings(self, session: Session, scan: ScanContext) -> Iterable[Finding]:
        week = iso_week(scan.local_date)
        return [
            Finding(
                "query",
                str(row.id),
                week,
                text(
                    N_("Query %(id)s on %(about)s was answered: close or re-open it"),
                    id=str(row.id),
                    about=_about(row),
                ),
                row.question[:500],
                _page(row.id),
                also_to=(row.opened_by_id,) if row.opened_by_id is not None else (),
                also_roles=() if row.opened_by_id is not None else ("site_lead",),
            )
            for row in _queries(session, scan, "answered")
        ]
