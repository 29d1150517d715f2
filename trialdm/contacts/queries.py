"""Read helpers for contact sessions, and intervention fidelity computed in SQL.

Fidelity rule (settings ``FIDELITY_MIN_CONTACTS`` = minimum, ``INTERVENTION_WINDOW_MONTHS``
= months, ``FIDELITY_AT_RISK_SLACK`` = slack), evaluated on a date ``as_of`` (today by
default) for every enrolled intervention-arm service user:

* A contact is one attendance at a (not deleted) session dated on or before ``as_of``;
  a group session counts once for each attendee.
* The window opens on ``intervention_start`` when it is set, else on the first contact,
  and ends on ``window_start + months`` calendar months (``dateutil.relativedelta``
  arithmetic: 31 August + 6 months = 28/29 February). **Both ends are inclusive**: a
  contact on ``window_end`` counts.
* ``days_left`` counts the days from ``as_of`` to ``window_end``, both included
  (1 on the last day, 0 once the window has closed).
* ``status``, first match wins:

  1. ``met``: at least ``minimum`` contacts inside the window (also when the
     participant later withdrew: they received the minimum);
  2. ``withdrawn``: withdrawn on or before ``as_of``;
  3. ``not_started``: no window yet (no contact, no explicit start on or before ``as_of``);
  4. ``not_met``: the window closed (``as_of > window_end``) short of the minimum;
  5. ``at_risk``: behind a steady pace by at least ``1 + slack`` contacts, i.e.
     ``minimum x elapsed / length >= contacts_in_window + 1 + slack``, where ``elapsed``
     is the days from window start to ``as_of`` and ``length`` the days of the window
     (both inclusive). With 3 contacts in 6 months and slack 0, a participant is at risk
     with no contact after the first third of the window, or with one after two thirds;
  6. ``on_track``: otherwise.

Everything is one SQL statement, whatever the number of participants
(:func:`fidelity_subquery` is a selectable that other queries join, e.g. summaries).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    and_,
    case,
    func,
    join,
    literal,
    or_,
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
from trialdm.core.sqldates import add_months, days_between
from trialdm.participants.models import Participant

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
) -> Subquery:
    """Per intervention participant, as of a date: ``participant_id``, ``site_code``,
    ``first_contact``, ``window_start``, ``window_end``, ``contacts_total``,
    ``contacts_in_window``, ``days_left``, ``status`` (see the module docstring).

    ``participant_ids`` / ``site_code`` filter the participants first, inside the
    grouping, so that the database reads only their contacts (a filter on the result
    would be applied after every participant of the trial was computed)."""
    as_of = as_of or date.today()
    rule = rule or FidelityRule.from_settings()
    on = literal(as_of, Date)

    def contacts_of(participant_id):
        # Attendances joined to live sessions up to as_of, as a nested join, so that the
        # database walks the participant_id index once per participant. Plain tables:
        # the site filter applies to the participants (the ORM would put its criteria
        # for joined entities in WHERE, turning these outer joins into inner ones).
        a = ContactAttendance.__table__.alias()
        s = ContactSession.__table__.alias()
        live = join(a, s, and_(s.c.id == a.c.session_id, s.c.deleted_at.is_(None), s.c.date <= on))
        return live, a.c.participant_id == participant_id, s.c

    p = Participant
    live, on_person, s1 = contacts_of(p.id)
    person_cols = (p.id, p.site_code, p.intervention_start, p.status, p.withdrawal_date)
    firsts = (
        select(
            *person_cols,
            func.min(s1.date).label("first_contact"),
            func.count(s1.id).label("contacts_total"),
        )
        .select_from(outerjoin(p, live, on_person))
        .where(*intervention_criteria(), *_people_filter(participant_ids, site_code))
        .group_by(*person_cols)
        .subquery("fidelity_firsts")
    )
    f = firsts.c
    window_start = func.coalesce(f.intervention_start, f.first_contact)
    withdrawn = and_(
        f.status == "withdrawn", f.withdrawal_date.is_not(None), f.withdrawal_date <= on
    )
    base = select(
        f.id.label("participant_id"),
        f.site_code.label("site_code"),
        f.first_contact,
        window_start.label("window_start"),
        add_months(window_start, rule.months).label("window_end"),
        f.contacts_total,
        case((withdrawn, 1), else_=0).label("withdrawn"),
    ).subquery("fidelity_base")

    live2, on_person2, s2 = contacts_of(base.c.participant_id)
    counted = (
        select(*base.c, func.count(s2.id).label("contacts_in_window"))
        .select_from(
            outerjoin(
                base,
                live2,
                and_(
                    on_person2,
                    s2.date >= base.c.window_start,
                    s2.date <= base.c.window_end,
                ),
            )
        )
        .group_by(*base.c)
        .subquery("fidelity_counted")
    )

    c = counted.c
    started = and_(c.window_start.is_not(None), c.window_start <= on)
    elapsed_days = days_between(c.window_start, on) + 1
    window_days = days_between(c.window_start, c.window_end) + 1
    status = case(
        (and_(started, c.contacts_in_window >= rule.minimum), "met"),
        (c.withdrawn == 1, "withdrawn"),
        (or_(c.window_start.is_(None), c.window_start > on), "not_started"),
        (on > c.window_end, "not_met"),
        (
            rule.minimum * elapsed_days >= (c.contacts_in_window + 1 + rule.slack) * window_days,
            "at_risk",
        ),
        else_="on_track",
    )
    days_left = case(
        (c.window_end.is_(None), None),
        (on > c.window_end, 0),
        else_=days_between(on, c.window_end) + 1,
    )
    return select(
        c.participant_id,
        c.site_code,
        c.first_contact,
        c.window_start,
        c.window_end,
        c.contacts_total,
        c.contacts_in_window,
        days_left.label("days_left"),
        status.label("status"),
    ).subquery("fidelity")


def _people_filter(
    participant_ids: Sequence[int] | None, site_code: str | None
) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if participant_ids is not None:
        found.append(Participant.id.in_(participant_ids))
    if site_code is not None:
        found.append(Participant.site_code == site_code)
    return found


def fidelity_for(
    session: Session, participant_ids: Iterable[int], as_of: date | None = None
) -> dict[int, dict[str, Any]]:
    """participant id -> fidelity fields, in one query (absent: no fidelity status)."""
    ids = sorted(set(participant_ids))
    if not ids:
        return {}
    fid = fidelity_subquery(as_of, participant_ids=ids)
    rows = session.execute(select(fid)).mappings()
    minimum = FidelityRule.from_settings().minimum
    return {row["participant_id"]: {**row, "minimum": minimum} for row in rows}


def attach_fidelity(
    session: Session, participants: Iterable[Participant], as_of: date | None = None
) -> None:
    """Set ``participant.fidelity`` (a dict or None) on each, with one query."""
    participants = list(participants)
    found = fidelity_for(session, (p.id for p in participants if has_fidelity_status(p)), as_of)
    for participant in participants:
        participant.fidelity = found.get(participant.id)


def site_fidelity_summary(session: Session, site_code: str, as_of: date | None = None) -> dict:
    """Counts of each fidelity status at one site, and the rule that made them."""
    as_of = as_of or date.today()
    rule = FidelityRule.from_settings()
    fid = fidelity_subquery(as_of, rule, site_code=site_code)
    rows = session.execute(select(fid.c.status, func.count()).group_by(fid.c.status)).all()
    counts = dict.fromkeys(FIDELITY_STATUSES, 0)
    counts.update({status: n for status, n in rows})
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
