"""Reminder rules of assessments (schedule: trialdm.schedule.queries).

The three rules read one statement per scan, shared: the schedule query of the
schedule domain for the site's participants and events as of the site's day, limited
to events due or overdue. The subject is a participant's event; each reminder comes
once per event.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Date, Select, String, and_, bindparam, cast, literal, or_
from sqlalchemy.orm import Session

from trialdm.core.errors import N_
from trialdm.reminders.rules import (
    Finding,
    Rule,
    ScanContext,
    Words,
    as_date,
    register,
    unstored,
)
from trialdm.reminders.texts import later


def open_assessments(session: Session, scan: ScanContext) -> list[Any]:
    """Events of the site's participants that are ``due`` or ``overdue`` on the day."""
    if "open_assessments" in scan.shared:
        return scan.shared["open_assessments"]
    from trialdm.instruments.queries import instruments_due_by_event
    from trialdm.schedule.queries import schedule_events

    if scan.many is not None and "due_by_event" in scan.many.shared:
        due_by_event = scan.many.shared["due_by_event"]
    else:
        due_by_event = instruments_due_by_event(session)
        if scan.many is not None:
            scan.many.shared["due_by_event"] = due_by_event
    settings = (
        scan.local_date,
        tuple(schedule_events(scan.config)),
        scan.config["SCHEDULE_WINDOW_DAYS"],
        tuple(sorted((event, tuple(names)) for event, names in due_by_event.items())),
        _new_only(scan),
    )
    if scan.many is not None:
        # a scan of many sites: computed once for every site, read here by site
        rows = scan.many.rows(
            session,
            "open_assessments",
            scan.local_date,
            # in the schedule's order (due date, study ID, event), grouped by site
            lambda: _open_assessments_select(*settings, per_site=False),
            "site",
            scan.site_code,
        )
    else:
        stmt = _open_assessments_select(*settings, per_site=True)
        rows = session.execute(stmt, {SITE_PARAM: scan.site_code}).all()
    scan.shared["open_assessments"] = rows
    return rows


SITE_PARAM = "reminder_site_code"


def _new_only(scan: ScanContext) -> tuple[tuple[str, ...], int, date | None] | None:
    """What the filter to rows with a new reminder depends on (None: every row): the
    active rules of this module, their setting and the digest day."""
    names = scan.new_only_rules(ASSESSMENT_RULES)
    if names is None:
        return None
    return names, scan.config["REMINDER_ASSESSMENT_SOON_DAYS"], scan.digest_day


@lru_cache(maxsize=32)
def _open_assessments_select(
    local_date: date,
    events: tuple[Any, ...],
    window_days: int,
    due_by_event: tuple[tuple[str, tuple[str, ...]], ...],
    new_only: tuple[tuple[str, ...], int, date | None] | None,
    *,
    per_site: bool,
) -> Select:
    """The statement of :func:`open_assessments`: for one site given when executed
    (built once per day and settings, not once per site: building it costs more than
    running it for a site of a few hundred participants), or for every site.
    ``new_only``: only the rows for which an active rule finds a reminder not stored
    yet -- its conditions and dedupe key, said in SQL."""
    from trialdm.schedule.queries import schedule_query

    stmt = schedule_query(
        local_date,
        list(events),
        window_days,
        {event: list(names) for event, names in due_by_event},
        site=bindparam(SITE_PARAM, type_=String()) if per_site else None,
        # due and overdue are open on the day: only the participants enrolled near it
        open_on_day=True,
    )
    row = stmt.selected_columns
    stmt = stmt.where(row.status.in_(("due", "overdue")))
    if new_only is None or not new_only[0]:
        return stmt
    names, soon_days, digest_day = new_only
    subject = cast(row.participant_id, String) + literal(":") + row.event
    wanted = {
        # the conditions of each rule's findings below, with its finding's key
        AssessmentDue.name: and_(
            row.status == "due",
            unstored(AssessmentDue.name, "assessment", subject, "window-open", digest_day),
        ),
        AssessmentDueSoon.name: and_(
            row.status == "due",
            row.due_date >= literal(local_date, Date),
            row.due_date <= literal(local_date + timedelta(days=soon_days), Date),
            unstored(AssessmentDueSoon.name, "assessment", subject, "due-soon", digest_day),
        ),
        AssessmentOverdue.name: and_(
            row.status == "overdue",
            unstored(AssessmentOverdue.name, "assessment", subject, "overdue", digest_day),
        ),
    }
    return stmt.where(or_(*(wanted[name] for name in names)))


def _assessment_finding(row: Any, period: str, title: Words, body: Words) -> Finding:
    return Finding(
        "assessment",
        f"{row.participant_id}:{row.event}",
        period,
        title,
        body,
        f"/participants/{row.participant_id}#questionnaires",
    )


@register
class AssessmentDue(Rule):
    """An assessment event became due: its window is open (SCHEDULE_WINDOW_DAYS before
    the due date) and it is not completed. Once per participant and event."""

    name = "assessment_due"
    label = N_("Assessment due (window open)")
    settings = ("SCHEDULE_EVENTS", "SCHEDULE_WINDOW_DAYS")

    def findings(self, session: Session, scan: ScanContext) -> Iterable[Finding]:
        rows = open_assessments(session, scan)
        return [
            _assessment_finding(
                row,
                "window-open",
                later(
                    N_("%(study_id)s: %(event)s assessment due by %(due)s"),
                    study_id=row.study_id,
                    event=row.event,
                    due=as_date(row.due_date),
                ),
                later(
                    N_(
                        "The %(event)s assessment of %(study_id)s can be done from %(start)s; "
                        "it is due on %(due)s and the window closes on %(end)s."
                    ),
                    event=row.event,
                    study_id=row.study_id,
                    start=as_date(row.window_start),
                    due=as_date(row.due_date),
                    end=as_date(row.window_end),
                ),
            )
            for row in rows
            if row.status == "due"
        ]


@register
class AssessmentDueSoon(Rule):
    """An open, uncompleted assessment is due within REMINDER_ASSESSMENT_SOON_DAYS days
    (its due date is today or at most that many days ahead). Once per event."""

    name = "assessment_due_soon"
    label = N_("Assessment due within days")
    settings = ("REMINDER_ASSESSMENT_SOON_DAYS", "SCHEDULE_EVENTS", "SCHEDULE_WINDOW_DAYS")

    def findings(self, session: Session, scan: ScanContext) -> Iterable[Finding]:
        horizon = scan.local_date + timedelta(days=scan.config["REMINDER_ASSESSMENT_SOON_DAYS"])
        return [
            _assessment_finding(
                row,
                "due-soon",
                later(
                    N_("%(study_id)s: %(event)s assessment due on %(due)s"),
                    study_id=row.study_id,
                    event=row.event,
                    due=as_date(row.due_date),
                ),
                later(
                    N_(
                        "The %(event)s assessment of %(study_id)s is due on %(due)s; the "
                        "window closes on %(end)s."
                    ),
                    event=row.event,
                    study_id=row.study_id,
                    due=as_date(row.due_date),
                    end=as_date(row.window_end),
                ),
            )
            for row in open_assessments(session, scan)
            if row.status == "due" and scan.local_date <= as_date(row.due_date) <= horizon
        ]


@register
class AssessmentOverdue(Rule):
    """An assessment is overdue: past its due date, not completed, the window still open.
    Once per event."""

    name = "assessment_overdue"
    label = N_("Assessment overdue")
    settings = ("SCHEDULE_EVENTS", "SCHEDULE_WINDOW_DAYS")

    def findings(self, session: Session, scan: ScanContext) -> Iterable[Finding]:
        return [
            _assessment_finding(
                row,
                "overdue",
                later(
                    N_("%(study_id)s: %(event)s assessment overdue"),
                    study_id=row.study_id,
                    event=row.event,
                ),
                later(
                    N_(
                        "The %(event)s assessment of %(study_id)s was due on %(due)s; its "
                        "window closes on %(end)s."
                    ),
                    event=row.event,
                    study_id=row.study_id,
                    due=as_date(row.due_date),
                    end=as_date(row.window_end),
                ),
            )
            for row in open_assessments(session, scan)
            if row.status == "overdue"
        ]


ASSESSMENT_RULES = (AssessmentDue.name, AssessmentDueSoon.name, AssessmentOverdue.name)
