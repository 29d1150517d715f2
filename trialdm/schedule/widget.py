"""The dashboard's due assessments: per site, the events due and overdue today, their
counts and the first of each.

A site's result is kept for the day together with each participant's events due or
overdue (:class:`SiteSchedule`). After an audited change at the site, only the
participants it concerns are computed again (:func:`open_events` on their ids) and
their events replaced, so the first request after a change reads those people's
responses, not the site's. Whom a change concerns:

* a participant's row: that participant, unless the update left every column the
  schedule reads as it was (an address or a phone number moves no event);
* a questionnaire response (created, edited, deleted): its participant, before and
  after when the audit row records it (a creation, a deletion outright, a move to
  another participant), else the response's row now; unless the update left every
  column the schedule reads as it was (answers alone).

An event's status depends on nothing else of the site but the day, the settings and
the instruments due, which are part of the key. There is no record of a missed event
(missed is computed from the window) and the schedule reads no allocation.
``tests/test_dashboard_schedule_updates.py`` compares the kept result with a full
computation after random changes.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trialdm.instruments.models import InstrumentResponse
from trialdm.schedule.queries import ScheduleRow, open_events
from trialdm.web.widgetcache import AuditedChange

WIDGET_STATUSES = ("overdue", "due")
WIDGET_ROWS = 8

# The participant columns the due assessments read (queries.schedule_query): an
# update of none of them leaves every event of the participant as it was.
SCHEDULE_COLUMNS = frozenset(
    {
        "category",
        "site_code",
        "study_id",
        "enrolment_date",
        "status",
        "withdrawal_date",
        "deleted_at",
    }
)
# The response columns the schedule reads (whether an event is completed, and when).
RESPONSE_COLUMNS = frozenset(
    {"participant_id", "event", "instrument_name", "status", "collected_on", "deleted_at"}
)

SiteResult = tuple[dict[str, int], list[ScheduleRow]]


# An event as :func:`open_events` gives it: ScheduleRow's fields in order.
Event = tuple[Any, ...]
PARTICIPANT, STUDY_ID, SITE, DUE_DATE, STATUS = 0, 1, 2, 4, 7


@dataclass(frozen=True)
class SiteSchedule:
    """A site's events due or overdue on one day, by participant, and the widget's
    result of the site (None without any). Never changed once built: a store in memory
    hands the same object to every request."""

    events: dict[int, tuple[Event, ...]]
    result: SiteResult | None = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "result", _result(self.events.values()))


def _result(events: Iterable[tuple[Event, ...]]) -> SiteResult | None:
    """The counts of each status and the first rows of each (by due date, then study
    ID)."""
    by_status: dict[str, list[Event]] = {status: [] for status in WIDGET_STATUSES}
    for rows in events:
        for row in rows:
            by_status[row[STATUS]].append(row)
    if not any(by_status.values()):
        return None
    counts = {status: len(rows) for status, rows in by_status.items()}
    first = [
        ScheduleRow(*row)
        for status in WIDGET_STATUSES
        for row in heapq.nsmallest(
            WIDGET_ROWS, by_status[status], key=lambda row: (row[DUE_DATE], row[STUDY_ID])
        )
    ]
    return counts, first


def _by_participant(rows: Iterable[Event]) -> dict[int, tuple[Event, ...]]:
    found: dict[int, list[Event]] = {}
    for row in rows:
        found.setdefault(row[PARTICIPANT], []).append(row)
    return {pid: tuple(these) for pid, these in found.items()}


def site_schedule(session: Session, day: date) -> dict[str, SiteSchedule]:
    """Every site in scope with events due or overdue on ``day``, each participant's:
    one statement for all."""
    by_site: dict[str, list[Event]] = {}
    for row in open_events(session, day, WIDGET_STATUSES):
        by_site.setdefault(row[SITE], []).append(row)
    return {site: SiteSchedule(_by_participant(rows)) for site, rows in sorted(by_site.items())}


def updated_site_schedule(
    session: Session,
    day: date,
    site: str,
    kept: SiteSchedule | None,
    changes: list[AuditedChange],
) -> SiteSchedule | None:
    """``kept`` after ``changes`` (the site's audit rows since), computing the events
    of the participants they concern alone; None when a change names no participant
    it can be traced to (the site is then computed whole)."""
    people = concerned(session, changes)
    if people is None:
        return None
    if not people:
        return kept if kept is not None else SiteSchedule({})
    events = dict(kept.events) if kept is not None else {}
    for pid in people:
        events.pop(pid, None)
    # a participant now of another site has no event here any more
    fresh = [row for row in open_events(session, day, WIDGET_STATUSES, people) if row[SITE] == site]
    events.update(_by_participant(fresh))
    return SiteSchedule(events)


def concerned(session: Session, changes: Iterable[AuditedChange]) -> set[int] | None:
    """The participants whose events ``changes`` may have moved (see the module)."""
    people: set[int] = set()
    responses: set[int] = set()
    for change in changes:
        try:
            if change.entity == "participants":
                if change.action == "update" and not SCHEDULE_COLUMNS & change.changes.keys():
                    continue
                people.add(int(change.entity_id or ""))
            elif change.entity == "responses":
                if change.action == "update" and not RESPONSE_COLUMNS & change.changes.keys():
                    continue
                recorded = [v for v in change.changes.get("participant_id") or () if v is not None]
                if recorded:
                    people.update(int(v) for v in recorded)
                else:
                    responses.add(int(change.entity_id or ""))
            else:
                return None
        except (TypeError, ValueError):
            return None
    if responses:
        people.update(
            session.scalars(
                select(InstrumentResponse.participant_id).where(
                    InstrumentResponse.id.in_(sorted(responses))
                )
            )
        )
    return people


def schedule_result(kept: SiteSchedule | None) -> SiteResult | None:
    return None if kept is None else kept.result


def schedule_widget(sites: list[SiteResult], day: date) -> dict[str, Any]:
    """The sites' counts summed, and the first rows of each status among all of them
    (each site kept its first rows of each status, so these are among them)."""
    counts = dict.fromkeys(WIDGET_STATUSES, 0)
    for site_counts, _ in sites:
        for status, n in site_counts.items():
            counts[status] += n
    merged = sorted(
        (row for _, rows in sites for row in rows), key=lambda row: (row.due_date, row.study_id)
    )
    rows: list[ScheduleRow] = []
    for status in WIDGET_STATUSES:
        rows += [row for row in merged if row.status == status][:WIDGET_ROWS]
    return {"due": counts["due"], "overdue": counts["overdue"], "rows": rows}
