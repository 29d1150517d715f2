"""The dashboard's fidelity widget: the count of each fidelity status per site.

A site's counts are kept for the day together with each of its intervention
participants' status (:class:`SiteFidelity`). After an audited change at the site,
only the participants it concerns are computed again (:func:`fidelity_for` on their
ids) and the counts moved by their old and new statuses, so the first request after
a change reads those people's contacts, not the site's. Whom a change concerns:

* a participant's row: that participant, unless the update left every column the
  rule reads as it was (an address or a phone number changes no status);
* an allocation: its participant (recorded in the audit row);
* a contact session (created, moved, deleted, attendees changed): its attendees
  before and after, from the audit row's attendances and the session's rows now (a
  session deleted outright, which the application never does, takes its attendance
  rows with it: its site is computed whole).

A status depends on nothing else of the site but the day and the rule, which are
part of the key. ``tests/test_dashboard_fidelity_updates.py`` compares the kept
counts with a full computation after random changes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trialdm.contacts import queries
from trialdm.contacts.models import FIDELITY_STATUSES, ContactAttendance
from trialdm.web.widgetcache import AuditedChange

# The participant columns the rule reads (queries.intervention_criteria, the window
# start, withdrawal); an update of none of them leaves the status as it was.
FIDELITY_COLUMNS = frozenset(
    {
        "category",
        "arm",
        "enrolment_date",
        "deleted_at",
        "intervention_start",
        "status",
        "withdrawal_date",
        "site_code",
    }
)


@dataclass(frozen=True)
class SiteFidelity:
    """A site's fidelity on one day: its summary (None without intervention
    participants) and each participant's status. Never changed once built: a store
    in memory hands the same object to every request."""

    summary: dict[str, Any] | None
    statuses: dict[int, str]


def site_fidelity(session: Session, day: date) -> dict[str, SiteFidelity]:
    """Every site in scope with intervention participants, each one's status: one
    statement for all."""
    rule = queries.FidelityRule.from_settings()
    fid = queries.fidelity_subquery(day, rule)
    by_site: dict[str, dict[int, str]] = {}
    for pid, site, status in session.execute(
        select(fid.c.participant_id, fid.c.site_code, fid.c.status)
    ):
        by_site.setdefault(site, {})[pid] = status
    return {
        site: SiteFidelity(_summary(site, day, rule, statuses.values()), statuses)
        for site, statuses in sorted(by_site.items())
    }


def updated_site_fidelity(
    session: Session,
    day: date,
    site: str,
    kept: SiteFidelity | None,
    changes: list[AuditedChange],
) -> SiteFidelity | None:
    """``kept`` after ``changes`` (the site's audit rows since), computing the status
    of the participants they concern alone; None when a change names no participant
    it can be traced to (the site is then computed whole)."""
    people = concerned(session, changes)
    if people is None:
        return None
    if not people:
        return kept if kept is not None else SiteFidelity(None, {})
    statuses = dict(kept.statuses) if kept is not None else {}
    counts = Counter(kept.summary["counts"]) if kept is not None and kept.summary else Counter()
    found = queries.fidelity_for(session, people, day)
    for pid in people:
        old = statuses.pop(pid, None)
        if old is not None:
            counts[old] -= 1
        row = found.get(pid)
        # no row: no status any more (deleted, another arm or category, not enrolled)
        if row is not None and row["site_code"] == site:
            statuses[pid] = row["status"]
            counts[row["status"]] += 1
    rule = queries.FidelityRule.from_settings()
    summary = queries.status_summary(site, day, rule, +counts) if statuses else None
    return SiteFidelity(summary, statuses)


def concerned(session: Session, changes: Iterable[AuditedChange]) -> set[int] | None:
    """The participants whose status ``changes`` may have moved (see the module)."""
    people: set[int] = set()
    sessions: set[int] = set()
    for change in changes:
        try:
            if change.entity == "participants":
                if change.action == "update" and not FIDELITY_COLUMNS & change.changes.keys():
                    continue
                people.add(int(change.entity_id or ""))
            elif change.entity == "randomisations":
                ids = [v for v in change.changes.get("participant_id") or () if v is not None]
                if not ids:
                    return None
                people.update(int(v) for v in ids)
            elif change.entity == "contact_sessions":
                deleted = change.changes.get("deleted_at") or (None, None)
                if change.action == "delete" and deleted[1] is None:
                    # a row deleted outright: its attendances went with it, unrecorded
                    return None
                sessions.add(int(change.entity_id or ""))
                for listed in change.changes.get("attendances") or ():
                    people.update(int(v) for v in listed or ())
            else:
                return None
        except (TypeError, ValueError):
            return None
    if sessions:
        people.update(
            session.scalars(
                select(ContactAttendance.participant_id).where(
                    ContactAttendance.session_id.in_(sorted(sessions))
                )
            )
        )
    return people


def _summary(
    site: str, day: date, rule: queries.FidelityRule, statuses: Iterable[str]
) -> dict[str, Any] | None:
    counts = Counter(statuses)
    if not counts:
        return None
    return queries.status_summary(site, day, rule, counts)


def fidelity_result(kept: SiteFidelity | None) -> dict[str, Any] | None:
    return None if kept is None else kept.summary


def fidelity_widget(rows: list[dict[str, Any]], day: date) -> dict[str, Any]:
    return {"rows": rows, "statuses": FIDELITY_STATUSES}


def fidelity_inputs(session: Session) -> tuple[Any, ...]:
    return (queries.FidelityRule.from_settings(),)
