"""The participant list filtered by fidelity status, evaluated participant by participant
in the list's order, so that a page stops at its last match.

:func:`~trialdm.contacts.queries.fidelity_subquery` computes every candidate's status
before anything is filtered or paged: right for counts and exports, but a page of 25
would cost as much as the trial's candidates. Here the status is an expression of the
listed participant's row: the allocation is joined (one at most), the contacts in the
window are a correlated count (attendances by their ``participant_id`` index, sessions
by key), and the window-start range the status allows
(:func:`~trialdm.contacts.queries.window_starts_for`) is checked on the row first. The
database reads the list in its order by an index, evaluates the rows it reaches and
stops after the page (``LIMIT``). The rule is the fidelity statement's own
(:func:`~trialdm.contacts.queries.status_case`). Such a list is not counted: a count
would evaluate every candidate. ``tests/test_contacts_fidelity_status_filter.py``
compares it with the status computed per participant and keeps the plans lazy on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    and_,
    func,
    literal,
    null,
    or_,
    select,
    union,
)
from sqlalchemy.sql import CompoundSelect

from trialdm.contacts.models import ContactAttendance, ContactSession
from trialdm.contacts.queries import (
    FidelityRule,
    intervention_criteria,
    status_case,
    window_start_of,
    window_starts_for,
    withdrawn_on,
)
from trialdm.core.sqldates import add_months
from trialdm.participants.models import Participant
from trialdm.randomisation.models import Randomisation
from trialdm.sites.queries import SiteDays


def with_fidelity_status(
    stmt: Select,
    status: str,
    as_of: date | None = None,
    rule: FidelityRule | None = None,
    *,
    days: SiteDays | None = None,
) -> Select:
    """``stmt`` (a select of the ``Participant`` entity) narrowed to the participants
    whose fidelity status on ``as_of`` is ``status``; without ``as_of``, on each site's
    own date (``days``), else on the server's."""
    rule = rule or FidelityRule.from_settings()
    p = Participant
    # Plain tables: the ORM's site criteria belong to the listed participants alone.
    # The allocation is joined (one per participant at most), so the window start is a
    # column of the row, not a subquery evaluated wherever the rule names it.
    r = Randomisation.__table__.alias("fidelity_randomisation")
    joined = stmt.outerjoin(r, and_(r.c.participant_id == p.id, r.c.arm == "intervention"))
    if as_of is not None or days is None or len(days.groups) <= 1:
        day = as_of or (days.days()[0] if days is not None else date.today())
        return joined.where(*intervention_criteria(), *_status_criteria(status, day, rule, r))
    # sites on different dates (around midnight somewhere): each on its own; the last
    # date's criteria take every site the others do not
    last = days.groups[-1][0]
    return joined.where(
        *intervention_criteria(),
        or_(
            *(
                and_(
                    p.site_code.not_in(sorted(days.before(day)))
                    if day == last
                    else p.site_code.in_(sorted(codes)),
                    *_status_criteria(status, day, rule, r),
                )
                for day, codes in days.groups
            )
        ),
    )


def _status_criteria(
    status: str, as_of: date, rule: FidelityRule, r: Any
) -> list[ColumnElement[bool]]:
    """The conditions of the listed participant's having ``status`` on ``as_of``,
    ``r`` their joined allocation."""
    on = literal(as_of, Date)
    p = Participant
    a, s = ContactAttendance.__table__, ContactSession.__table__
    window_start = window_start_of(r)
    window_end = add_months(window_start, rule.months)
    withdrawn = withdrawn_on(on)
    in_window = (
        select(func.count())
        .select_from(a.join(s, s.c.id == a.c.session_id))
        .where(
            a.c.participant_id == p.id,
            s.c.deleted_at.is_(None),
            s.c.date <= on,
            s.c.date >= window_start,
            s.c.date <= window_end,
        )
        .correlate_except(a, s)
        .scalar_subquery()
    )
    found: list[ColumnElement[bool]] = []
    starts = window_starts_for(status, as_of, rule)
    before: list[tuple[ColumnElement[bool], Any]] = []
    if starts is not None and status == "not_started":
        # a start after today: rare (none but for a past date), found by index ranges
        found.append(p.id.in_(_candidates(*starts)))
    elif starts is not None:
        # an open window, as most recent participants have: a check of the row's own
        # columns, first, so that a closed window costs no count of its contacts
        before.append((~window_start.between(*starts), null()))
    # NULL unless the status is the one asked for, tested by IS NOT NULL: PostgreSQL
    # has no statistics for the expression and estimates that nearly every row passes
    # (for "= 'at_risk'" it would guess 0.5 %, and compute every row, then sort),
    # so it reads the list's order by index and stops at the page, as SQLite does.
    matches = status_case(
        on,
        rule,
        window_start,
        window_end,
        withdrawn,
        in_window,
        value=lambda name: literal(1) if name == status else null(),
        before=before,
    )
    found.append(matches.is_not(None))
    return found


def _candidates(first: date, last: date) -> CompoundSelect:
    """Ids of the intervention participants whose window start may lie in
    [first, last]: an id list the database builds once and reads in order. The window
    opens on the randomisation, else intervention_start, else the enrolment date, so
    whoever's start is in the range has one of the three in it: three index ranges
    (an OR of the three would be a filter over every intervention participant on
    PostgreSQL). The randomisation's UTC time is widened by a day either side; the
    status itself then narrows the candidates."""
    c = Participant.__table__.alias("fidelity_candidates")  # not the listed participants
    r = Randomisation.__table__
    since = datetime.combine(first - timedelta(days=1), time(), UTC)
    until = datetime.combine(
        min(last, date.max - timedelta(days=2)) + timedelta(days=2), time(), UTC
    )
    enrolled = select(c.c.id).where(
        c.c.category == "service_user",
        c.c.arm == "intervention",
        c.c.enrolment_date.between(first, last),
        c.c.deleted_at.is_(None),
    )
    return union(
        enrolled,
        select(c.c.id).where(c.c.intervention_start.between(first, last)),
        select(r.c.participant_id).where(
            r.c.arm == "intervention", r.c.randomised_at >= since, r.c.randomised_at < until
        ),
    )
