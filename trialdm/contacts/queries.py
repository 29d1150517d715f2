"""Read helpers for contact sessions, and intervention fidelity computed in SQL.

Fidelity rule (settings ``FIDELITY_MIN_CONTACTS`` = minimum, ``INTERVENTION_WINDOW_MONTHS``
= months, ``FIDELITY_AT_RISK_SLACK`` = slack), evaluated on a date ``as_of`` (by default
each participant's site's today) for every enrolled intervention-arm service user:

* A contact is one attendance at a (not deleted) session dated on or before ``as_of``;
  a group session counts once for each attendee.
* The window opens at the participant's allocation to the intervention arm, never at
  their first contact (someone never contacted is behind like anyone else, not
  ``not_started``), on the first of:

  1. the date (UTC) of their stored randomisation to the intervention arm
     (``randomisations.randomised_at``), where the service randomises
     (``TRIALDM_RANDOMISATION=service``);
  2. ``intervention_start``, where the arm is typed in (``external``) and the team
     records when peer support began;
  3. the enrolment date (enrolment is when a typed arm is given).

  It ends on ``window_start + months`` calendar months (``dateutil.relativedelta``
  arithmetic: 31 August + 6 months = 28/29 February). **Both ends are inclusive**: a
  contact on ``window_end`` counts; contacts before ``window_start`` count in
  ``contacts_total`` (and ``first_contact``, ``last_contact``) only.
* ``days_left`` counts the days from ``as_of`` to ``window_end``, both included
  (1 on the last day, 0 once the window has closed).
* ``status``, first match wins:

  1. ``met``: at least ``minimum`` contacts inside the window (also when the
     participant later withdrew: they received the minimum);
  2. ``withdrawn``: withdrawn on or before ``as_of``;
  3. ``not_started``: the window opens after ``as_of`` (only for a date in the past:
     allocation, enrolment and ``intervention_start`` are never in the future);
  4. ``not_met``: the window closed (``as_of > window_end``) short of the minimum;
  5. ``at_risk``: behind a steady pace by at least ``1 + slack`` contacts, i.e.
     ``minimum x elapsed / length >= contacts_in_window + 1 + slack``, where ``elapsed``
     is the days from window start to ``as_of`` and ``length`` the days of the window
     (both inclusive). With 3 contacts in 6 months and slack 0, a participant is at risk
     with no contact after the first third of the window (so enrolled four months ago and
     never contacted is ``at_risk``), or with one after two thirds;
  6. ``on_track``: otherwise.

Everything is one SQL statement, whatever the number of participants
(:func:`fidelity_subquery` is a selectable that other queries join, e.g. summaries).
Since the window comes from the participant row and their allocation alone, the
statement reads the contacts once: the participants (filtered first by
``participant_ids`` / ``site_code``) and their windows are a materialised CTE, each
one's attendances are found by the ``participant_id`` index and their sessions by key,
and one grouping counts them. ``bench/fidelity.py`` compares it with a hand-written
statement of the same rule; ``tests/test_contacts_fidelity.py`` keeps the plan free of
full scans for one participant or one site.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from dateutil.relativedelta import relativedelta
from flask import current_app
from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    and_,
    bindparam,
    case,
    func,
    literal,
    outerjoin,
    select,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import Subquery

from trialdm.contacts.models import (
    FIDELITY_STATUSES,
    ContactAttendance,
    ContactSession,
    ContactSessionPsw,
)
from trialdm.core.errors import N_
from trialdm.core.queries import get_or_404
from trialdm.core.sqldates import add_months, days_between, utc_date
from trialdm.participants.models import Participant
from trialdm.randomisation.models import Randomisation
from trialdm.sites.queries import SiteDays, site_today, sites_by_day

SORTABLE = {
    "id": ContactSession.id,
    "date": ContactSession.date,
    "site": ContactSession.site_code,
    "created_at": ContactSession.created_at,
}


@dataclass(frozen=True)
class FidelityRule:
    minimum: int
    months: int
    slack: float

    @classmethod
    def from_settings(cls, config: Mapping[str, Any] | None = None) -> FidelityRule:
        config = current_app.config if config is None else config
        return cls(
            minimum=int(config["FIDELITY_MIN_CONTACTS"]),
            months=int(config["INTERVENTION_WINDOW_MONTHS"]),
            slack=float(config["FIDELITY_AT_RISK_SLACK"]),
        )


def intervention_criteria() -> tuple[ColumnElement[bool], ...]:
    """Who has a fidelity status: enrolled intervention-arm service users."""
    return (
        Participant.category == "service_user",
        Participant.arm == "intervention",
        Participant.enrolment_date.is_not(None),
        Participant.deleted_at.is_(None),
    )


def has_fidelity_status(participant: Participant) -> bool:
    """:func:`intervention_criteria` for a loaded participant, to skip the query for
    everyone else (control arm, PSWs, MHWs, people not enrolled)."""
    return (
        participant.category == "service_user"
        and participant.arm == "intervention"
        and participant.enrolment_date is not None
        and participant.deleted_at is None
    )


def contacts_subquery(as_of: date | None = None, name: str = "contacts") -> Subquery:
    """One row per contact (attendance at a live session): participant_id, contact_date."""
    stmt = (
        select(
            ContactAttendance.participant_id.label("participant_id"),
            ContactSession.date.label("contact_date"),
        )
        .join(ContactSession, ContactSession.id == ContactAttendance.session_id)
        .where(ContactSession.deleted_at.is_(None))
    )
    if as_of is not None:
        stmt = stmt.where(ContactSession.date <= as_of)
    return stmt.subquery(name)


def fidelity_subquery(
    as_of: date | None = None,
    rule: FidelityRule | None = None,
    *,
    participant_ids: Sequence[int] | None = None,
    site_code: str | None = None,
    shared: bool = True,
) -> Subquery:
    """Per intervention participant, as of a date: ``participant_id``, ``site_code``,
    ``first_contact``, ``last_contact``, ``window_start``, ``window_end``,
    ``contacts_total``, ``contacts_in_window``, ``days_left``, ``status`` (see the
    module docstring).

    ``participant_ids`` / ``site_code`` filter the participants first, where they are
    read, so that the database reads only their contacts (a filter on the result would
    be applied after every participant of the trial was computed). (The participant
    list filters by status row by row instead, stopping at its page:
    :mod:`trialdm.contacts.status_filter`.)

    ``shared=False`` builds a statement of the call's own instead of the one kept per
    date and rule: the ORM marks a statement the first time it compiles it, which
    changes the cache key of any later statement embedding it, so a caller that
    embeds the statement in its own (a summaries build, once per workbook) and wants
    its compiled form found in SQLAlchemy's cache from the second build on asks for a
    new one each time."""
    as_of = as_of or date.today()
    rule = rule or FidelityRule.from_settings()
    # Building the statement costs more than running it for one participant: it is
    # built once per date, rule and kind of filter, and given this call's values.
    build = _fidelity_select if shared else _fidelity_select.__wrapped__
    stmt = build(as_of, rule, participant_ids is not None, site_code is not None)
    values: dict[str, Any] = {}
    if participant_ids is not None:
        values[IDS_PARAM] = list(participant_ids)
    if site_code is not None:
        values[SITE_PARAM] = site_code
    return (stmt.params(values) if values else stmt).subquery("fidelity")


IDS_PARAM, SITE_PARAM = "fidelity_participant_ids", "fidelity_site_code"
# A window's months hold at least 28 days each; clamping to a month's end moves its end
# by at most 3 days: a week either side keeps every window start a status allows.
_MARGIN = timedelta(days=7)


def window_starts_for(status: str, as_of: date, rule: FidelityRule) -> tuple[date, date] | None:
    """The window starts (earliest, latest) of everyone who may have ``status`` on
    ``as_of``, a superset that the status itself then narrows; None for the statuses
    any start allows (met, not met, withdrawn). An open window started within the last
    ``months``; ``at_risk`` needs a share of it elapsed even with no contact (the rule's
    pace: ``minimum x elapsed >= (1 + slack) x length``); ``not_started`` a start
    after ``as_of``."""
    opened = as_of - relativedelta(months=rule.months) - _MARGIN
    if status == "on_track":
        return opened, as_of
    if status == "at_risk":
        if rule.minimum <= 0:  # met as soon as the window opens: nobody is at risk
            return as_of + _MARGIN, as_of
        shortest = 28 * rule.months + 1
        elapsed = max(0, math.floor((1 + rule.slack) * shortest / rule.minimum) - 1)
        return opened, as_of - timedelta(days=elapsed) + _MARGIN
    if status == "not_started":
        return as_of + timedelta(days=1), date.max
    return None


@lru_cache(maxsize=64)
def _fidelity_select(as_of: date, rule: FidelityRule, by_ids: bool, by_site: bool) -> Select:
    on = literal(as_of, Date)

    # The window comes from the participant row (and their allocation) alone, so it is
    # known before any contact is read: one pass over the contacts then counts them.
    # Plain tables for the outer joins: the ORM would put its site criteria for joined
    # entities in WHERE, turning them into inner joins; the participants' own site
    # scoping applies through the Participant entity.
    p = Participant
    r = Randomisation.__table__
    window_start = window_start_of(r)
    withdrawn = withdrawn_on(on)
    read = (
        select(
            p.id.label("participant_id"),
            p.site_code.label("site_code"),
            window_start.label("window_start"),
            add_months(window_start, rule.months).label("window_end"),
            case((withdrawn, 1), else_=0).label("withdrawn"),
        )
        .select_from(outerjoin(p, r, and_(r.c.participant_id == p.id, r.c.arm == "intervention")))
        .where(*intervention_criteria(), *_people_filter(by_ids, by_site))
    )
    # Materialised, so that the bounds are computed once per participant and each
    # contact is only compared with them (inlined, SQLite and PostgreSQL would
    # recompute the date arithmetic for every contact row and group key). Nested in
    # the statement, so that a caller may join two fidelity selectables.
    people = read.cte("fidelity_people", nesting=True).prefix_with("MATERIALIZED")
    w = people.c
    a = ContactAttendance.__table__
    s = ContactSession.__table__
    # Each participant's attendances by the participant_id index, then their session by
    # its key; a session deleted or dated after as_of leaves s NULL, which no aggregate
    # counts. (A nested join of attendances and sessions would be materialised whole.)
    contacts = outerjoin(people, a, a.c.participant_id == w.participant_id).outerjoin(
        s, and_(s.c.id == a.c.session_id, s.c.deleted_at.is_(None), s.c.date <= on)
    )
    in_window = and_(s.c.date >= w.window_start, s.c.date <= w.window_end)
    counted = (
        select(
            *w,
            func.min(s.c.date).label("first_contact"),
            func.max(s.c.date).label("last_contact"),
            func.count(s.c.id).label("contacts_total"),
            func.count(case((in_window, s.c.id))).label("contacts_in_window"),
        )
        .select_from(contacts)
        .group_by(*w)
        .subquery("fidelity_counted")
    )

    c = counted.c
    status = status_case(
        on, rule, c.window_start, c.window_end, c.withdrawn == 1, c.contacts_in_window
    )
    days_left = case(
        (on > c.window_end, 0),
        else_=days_between(on, c.window_end) + 1,
    )
    return select(
        c.participant_id,
        c.site_code,
        c.first_contact,
        c.last_contact,
        c.window_start,
        c.window_end,
        c.contacts_total,
        c.contacts_in_window,
        days_left.label("days_left"),
        status.label("status"),
    )


def window_start_of(allocation: Any) -> ColumnElement[Any]:
    """The participant's window start (the module docstring's rule), ``allocation``
    being the randomisations table (or an alias) outer-joined on their allocation to
    the intervention arm."""
    p = Participant
    return func.coalesce(
        utc_date(allocation.c.randomised_at), p.intervention_start, p.enrolment_date
    )


def withdrawn_on(on: ColumnElement[Any]) -> ColumnElement[bool]:
    """The participant withdrew on or before ``on``."""
    p = Participant
    return and_(p.status == "withdrawn", p.withdrawal_date.is_not(None), p.withdrawal_date <= on)


def status_case(
    on: ColumnElement[Any],
    rule: FidelityRule,
    window_start: ColumnElement[Any],
    window_end: ColumnElement[Any],
    withdrawn: ColumnElement[bool],
    contacts_in_window: ColumnElement[Any],
    value: Callable[[str], Any] = str,
    before: Sequence[tuple[ColumnElement[bool], Any]] = (),
) -> ColumnElement[Any]:
    """The status on ``on`` (the module docstring's rule, first match wins), or
    ``value(status)``; ``before``: earlier (condition, result) pairs."""
    elapsed_days = days_between(window_start, on) + 1
    window_days = days_between(window_start, window_end) + 1
    return case(
        *before,
        (and_(window_start <= on, contacts_in_window >= rule.minimum), value("met")),
        (withdrawn, value("withdrawn")),
        (window_start > on, value("not_started")),
        (on > window_end, value("not_met")),
        (
            rule.minimum * elapsed_days >= (contacts_in_window + 1 + rule.slack) * window_days,
            value("at_risk"),
        ),
        else_=value("on_track"),
    )


def _people_filter(by_ids: bool, by_site: bool) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if by_ids:
        found.append(Participant.id.in_(bindparam(IDS_PARAM, expanding=True)))
    if by_site:
        found.append(Participant.site_code == bindparam(SITE_PARAM))
    return found


def fidelity_for(
    session: Session,
    participant_ids: Iterable[int],
    as_of: date | None = None,
    sites: Iterable[str] | None = None,
) -> dict[int, dict[str, Any]]:
    """participant id -> fidelity fields, in one query (absent: no fidelity status);
    one per date when the sites of the participants (``sites``, when the caller knows
    them, else every site) are not all on the same date and ``as_of`` is not given."""
    ids = sorted(set(participant_ids))
    if not ids:
        return {}
    rule = FidelityRule.from_settings()
    found: dict[int, dict[str, Any]] = {}
    days, site_days = _days(session, as_of, sites)
    for day in days:
        # the cached statement itself, its ids given at execution: nothing to rebuild
        stmt = _fidelity_rows(day, rule, by_ids=True)
        for row in session.execute(stmt, {IDS_PARAM: ids}).mappings():
            if site_days is None or site_days.day_of(row["site_code"]) == day:
                found[row["participant_id"]] = {**row, "minimum": rule.minimum}
    return found


def _days(
    session: Session, as_of: date | None, sites: Iterable[str] | None = None
) -> tuple[list[date], SiteDays | None]:
    """The dates to evaluate on, and the sites' dates that say which rows each gives
    (None: every row): ``as_of`` when given, else each site's own today (a contact
    entered at a site is dated by the site's calendar, which may be a day ahead of
    the server's), of ``sites`` alone when given."""
    if as_of is not None:
        return [as_of], None
    site_days = sites_by_day(session)
    days = site_days.days(sites)
    return days, (site_days if len(days) > 1 else None)


@lru_cache(maxsize=64)
def _fidelity_rows(as_of: date, rule: FidelityRule, by_ids: bool) -> Select:
    """Every column of :func:`fidelity_subquery`, filtered by participants (``by_ids``)
    or by site, as a statement given its filter's value when executed."""
    return select(_fidelity_select(as_of, rule, by_ids, not by_ids).subquery("fidelity"))


def attach_fidelity(
    session: Session, participants: Iterable[Participant], as_of: date | None = None
) -> None:
    """Set ``participant.fidelity`` (a dict or None) on each, with one query."""
    participants = list(participants)
    counted = [p for p in participants if has_fidelity_status(p)]
    found = fidelity_for(session, (p.id for p in counted), as_of, {p.site_code for p in counted})
    for participant in participants:
        participant.fidelity = found.get(participant.id)


def site_fidelity_summary(session: Session, site_code: str, as_of: date | None = None) -> dict:
    """Counts of each fidelity status at one site, and the rule that made them."""
    as_of = as_of or site_today(session, site_code)
    rule = FidelityRule.from_settings()
    rows = session.execute(_site_status_counts(as_of, rule), {SITE_PARAM: site_code}).all()
    return status_summary(site_code, as_of, rule, dict(rows))


def sites_fidelity_summaries(session: Session, as_of: date | None = None) -> list[dict]:
    """:func:`site_fidelity_summary` of every site in scope with intervention
    participants, by one statement grouped by site (one per date when the sites are
    not all on the same date and ``as_of`` is not given)."""
    rule = FidelityRule.from_settings()
    by_site: dict[str, tuple[date, dict[str, int]]] = {}
    days, site_days = _days(session, as_of)
    for day in days:
        fid = fidelity_subquery(day, rule)
        found = session.execute(
            select(fid.c.site_code, fid.c.status, func.count()).group_by(
                fid.c.site_code, fid.c.status
            )
        )
        for site, status, n in found:
            if site_days is None or site_days.day_of(site) == day:
                by_site.setdefault(site, (day, {}))[1][status] = n
    return [
        status_summary(site, by_site[site][0], rule, by_site[site][1]) for site in sorted(by_site)
    ]


def status_summary(
    site_code: str, as_of: date, rule: FidelityRule, found: Mapping[str, int]
) -> dict:
    """A site's counts of each status (``found``, the others 0) with the rule."""
    counts = dict.fromkeys(FIDELITY_STATUSES, 0)
    counts.update(found)
    total = sum(counts.values())
    started = total - counts["not_started"]
    return {
        "site": site_code,
        "as_of": as_of,
        "minimum_contacts": rule.minimum,
        "window_months": rule.months,
        "at_risk_slack": rule.slack,
        "participants": total,
        "counts": counts,
        "met_share": round(counts["met"] / started, 4) if started else None,
    }


@lru_cache(maxsize=64)
def _site_status_counts(as_of: date, rule: FidelityRule) -> Select:
    fid = _fidelity_select(as_of, rule, False, True).subquery("fidelity")
    return select(fid.c.status, func.count()).group_by(fid.c.status)


def get_contact_session(session: Session, session_id: int) -> ContactSession:
    return get_or_404(session, ContactSession, session_id, missing=N_("No such contact session."))


def contact_sessions_query(filters: Mapping[str, Any]) -> Select:
    stmt = select(ContactSession).where(ContactSession.deleted_at.is_(None))
    if filters.get("site"):
        stmt = stmt.where(ContactSession.site_code == filters["site"])
    for name in ("format", "mode"):
        if filters.get(name):
            stmt = stmt.where(getattr(ContactSession, name) == filters[name])
    if filters.get("date_from"):
        stmt = stmt.where(ContactSession.date >= filters["date_from"])
    if filters.get("date_to"):
        stmt = stmt.where(ContactSession.date <= filters["date_to"])
    if filters.get("participant_id"):
        stmt = stmt.where(
            ContactSession.id.in_(
                select(ContactAttendance.session_id).where(
                    ContactAttendance.participant_id == filters["participant_id"]
                )
            )
        )
    if filters.get("psw_id"):
        stmt = stmt.where(
            ContactSession.id.in_(
                select(ContactSessionPsw.session_id).where(
                    ContactSessionPsw.psw_id == filters["psw_id"]
                )
            )
        )
    return stmt
