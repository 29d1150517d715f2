"""The assessment schedule, computed set-based in SQL as of a date.

Events and their offsets are trial settings (``SCHEDULE_EVENTS``, months after
enrolment; ``SCHEDULE_WINDOW_DAYS`` either side of the due date). Month arithmetic
clamps to the end of the month, as people count months: enrolled on 31 October,
T1 (4 months) is due on 28 February (29 in a leap year).

Status of an event of an enrolled service user, as of a date:

- ``completed``: every instrument due at the event has a complete response for it
  (whenever that was entered, even after withdrawal);
- ``not_applicable``: withdrawn on or before the end of the window without completing;
- ``upcoming``: before the window opens;
- ``due``: the window is open, up to and including the due date;
- ``overdue``: past the due date, the window still open;
- ``missed``: the window closed without completion.

:func:`schedule_rows` is the one query (the reminders reuse it); it runs as a single
statement whatever the number of participants, and the site scope applies to it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from trialdm.config import ScheduleEvent, schedule_events
from trialdm.core.runtime import cyclic_collector_paused
from trialdm.core.scoping import execute_scoped_rows
from trialdm.core.sqldates import add_months
from trialdm.instruments.models import InstrumentResponse
from trialdm.participants.models import Participant

STATUSES = ("upcoming", "due", "overdue", "completed", "missed", "not_applicable")


class add_days(FunctionElement):
    """``date + n days`` for a whole number ``n`` known in Python."""

    type = Date()
    name = "add_days"
    inherit_cache = True


@compiles(add_days, "postgresql")
def _add_days_pg(element, compiler, **kw):
    day, days = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"CAST(({day} + CAST({days} AS INTEGER)) AS DATE)"


@compiles(add_days, "sqlite")
def _add_days_sqlite(element, compiler, **kw):
    day, days = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"date({day}, printf('%+d days', {days}))"


@dataclass(frozen=True)
class ScheduleRow:
    participant_id: int
    study_id: str
    site: str
    event: str
    due_date: date
    window_start: date
    window_end: date
    status: str
    completed_on: date | None


def window_whens(windows: Any, day: ColumnElement[Any], before: str) -> list[tuple[Any, str]]:
    """The states of an event not completed, by its window on ``day``: not applicable
    (withdrawn before the window closed), ``before`` the window, due, overdue (after
    the due date, window still open); a ``case`` ends them with ``else_="missed"``.
    ``windows`` has participant_status, withdrawal_date, window_start, due_date and
    window_end columns."""
    c = windows.c
    withdrawn = and_(
        c.participant_status == "withdrawn",
        or_(c.withdrawal_date.is_(None), c.withdrawal_date <= c.window_end),
    )
    return [
        (withdrawn, "not_applicable"),
        (day < c.window_start, before),
        (day <= c.due_date, "due"),
        (day <= c.window_end, "overdue"),
    ]


# Adding months clamps to a month's end, so a due date moves at most 3 days against its
# enrolment date; 4 days either side keeps every enrolment whose window may be open.
_CLAMP_MARGIN = timedelta(days=4)


def enrolled_due_near(as_of: date, months: int, window_days: int) -> tuple[date, date]:
    """The enrolment dates whose due date, ``months`` later, may have its window
    (``window_days`` either side) open on ``as_of``: a superset, the status decides."""
    back = relativedelta(months=months)
    first = as_of - timedelta(days=window_days) - back - _CLAMP_MARGIN
    last = as_of + timedelta(days=window_days) - back + _CLAMP_MARGIN
    return first, last


def schedule_query(
    as_of: date,
    events: list[ScheduleEvent],
    window_days: int,
    due_by_event: Mapping[str, list[str]],
    *,
    site: str | ColumnElement[str] | None = None,
    status: str | None = None,
    event: str | None = None,
    participant_id: int | None = None,
    participant_ids: Collection[int] | None = None,
    open_on_day: bool = False,
) -> Select:
    """The statement behind :func:`schedule_rows` (for callers that page or join).

    ``open_on_day``: only the events whose window is open on ``as_of`` (a dashboard's
    due and overdue). Each event then reads only the participants enrolled in the
    days whose due date falls near ``as_of`` (an index range on the enrolment date),
    and their responses are looked up per participant, so that the cost follows the
    people in window, not the trial. ``participant_id`` narrows the responses read
    in the same way; so does ``participant_ids`` (a dashboard's few people concerned by
    a change)."""
    if event:
        events = [e for e in events if e.name == event]
    # Few (participant, event) rows: each one's responses looked up afterwards by the
    # participant index, in one correlated subquery. Otherwise each event's SELECT
    # reads its responses beside its participants (_with_event_done).
    per_row = open_on_day or participant_id is not None or participant_ids is not None
    # One SELECT per event (UNION ALL), each with its literal event columns, so that a
    # per-event enrolment range can use the enrolment_date index.
    per_event = []
    for i, e in enumerate(events):
        n_due = max(len(due_by_event.get(e.name, [])), 1)
        one = select(
            Participant.id.label("participant_id"),
            Participant.study_id.label("study_id"),
            Participant.site_code.label("site"),
            Participant.status.label("participant_status"),
            Participant.withdrawal_date.label("withdrawal_date"),
            cast(literal(e.name), String).label("event"),
            cast(literal(i), Integer).label("ordinal"),
            cast(literal(n_due), Integer).label("n_due"),
            add_months(Participant.enrolment_date, e.months).label("due_date"),
        ).where(
            Participant.category == "service_user",
            Participant.enrolment_date.is_not(None),
            Participant.deleted_at.is_(None),
        )
        if open_on_day:
            first, last = enrolled_due_near(as_of, e.months, window_days)
            # the index range, then the exact window, before any response is read
            one = one.where(
                Participant.enrolment_date.between(first, last),
                add_months(Participant.enrolment_date, e.months).between(
                    as_of - timedelta(days=window_days), as_of + timedelta(days=window_days)
                ),
            )
        if isinstance(site, ColumnElement) or site:
            # a code, or a bound parameter for a statement reused across sites
            one = one.where(Participant.site_code == site)
        if participant_id is not None:
            one = one.where(Participant.id == participant_id)
        if participant_ids is not None:
            one = one.where(Participant.id.in_(sorted(participant_ids)))
        if not per_row:
            one = _with_event_done(one, e, n_due, due_by_event)
        per_event.append(one)
    if not per_event:  # no such event: a statement of the same columns without rows
        per_event.append(
            select(
                Participant.id.label("participant_id"),
                Participant.study_id.label("study_id"),
                Participant.site_code.label("site"),
                Participant.status.label("participant_status"),
                Participant.withdrawal_date.label("withdrawal_date"),
                cast(literal(""), String).label("event"),
                cast(literal(0), Integer).label("ordinal"),
                cast(literal(1), Integer).label("n_due"),
                Participant.enrolment_date.label("due_date"),
                *([] if per_row else [Participant.enrolment_date.label("completed_on")]),
            ).where(false())
        )
    due = (union_all(*per_event) if len(per_event) > 1 else per_event[0]).subquery("due")
    windows = select(
        due,
        add_days(due.c.due_date, -window_days).label("window_start"),
        add_days(due.c.due_date, window_days).label("window_end"),
    ).subquery("windows")
    # ``completed_on``: the last collection date once every instrument due is complete,
    # NULL before (collected_on is never NULL, so a complete event always has one).
    if per_row:
        counted_responses = _counted_responses(events, due_by_event)
        windows = (
            select(
                windows,
                select(
                    case(
                        (
                            func.count(func.distinct(InstrumentResponse.instrument_name))
                            >= windows.c.n_due,
                            func.max(InstrumentResponse.collected_on),
                        )
                    )
                )
                .where(
                    InstrumentResponse.participant_id == windows.c.participant_id,
                    InstrumentResponse.event == windows.c.event,
                    *counted_responses,
                )
                .scalar_subquery()
                .label("completed_on"),
            )
            # Materialised: the status reads completed_on twice, and SQLite would run
            # the subquery once for each reading of a flattened subquery.
            .cte("schedule_done", nesting=True)
            .prefix_with("MATERIALIZED")
        )
    completed = windows.c.completed_on.is_not(None)
    day = literal(as_of, Date)
    status_expr = case(
        (completed, "completed"), *window_whens(windows, day, "upcoming"), else_="missed"
    )
    rows = select(
        windows.c.participant_id,
        windows.c.study_id,
        windows.c.site,
        windows.c.event,
        windows.c.ordinal,
        windows.c.due_date,
        windows.c.window_start,
        windows.c.window_end,
        status_expr.label("status"),
        windows.c.completed_on,
    ).subquery("schedule")
    stmt = select(
        rows.c.participant_id,
        rows.c.study_id,
        rows.c.site,
        rows.c.event,
        rows.c.due_date,
        rows.c.window_start,
        rows.c.window_end,
        rows.c.status,
        rows.c.completed_on,
    ).order_by(rows.c.due_date, rows.c.study_id, rows.c.ordinal)
    if status:
        stmt = stmt.where(rows.c.status == status)
    return stmt


def _counted_responses(
    events: list[ScheduleEvent], due_by_event: Mapping[str, list[str]]
) -> tuple[ColumnElement[bool], ...]:
    """The responses that count towards an event: complete, and of an instrument due
    there (or, for an event without instruments, any complete response)."""
    counts = [
        and_(
            InstrumentResponse.event == e.name,
            InstrumentResponse.instrument_name.in_(due_by_event[e.name])
            if due_by_event.get(e.name)
            else true(),
        )
        for e in events
    ]
    return (
        InstrumentResponse.status == "complete",
        InstrumentResponse.deleted_at.is_(None),
        or_(*counts) if counts else false(),
    )


def _with_event_done(
    one: Select, e: ScheduleEvent, n_due: int, due_by_event: Mapping[str, list[str]]
) -> Select:
    """``one`` (an event's participants) with its ``completed_on``, from each
    participant's responses at the event read beside it (a left join by the index on
    participant, event and instrument; grouped by participant, which the participants'
    order gives without a sort). Not one grouping of every response joined afterwards:
    SQLite joins that through an index it builds in its temporary storage, which
    outgrows its page cache from some 100,000 rows on and is then read back with a
    system call per look-up (1.1 GB read at 100,000 participants)."""
    done_at_event = and_(
        InstrumentResponse.participant_id == Participant.id,
        *_counted_responses([e], due_by_event),
    )
    return (
        one.add_columns(
            case(
                (
                    func.count(func.distinct(InstrumentResponse.instrument_name)) >= n_due,
                    func.max(InstrumentResponse.collected_on),
                )
            ).label("completed_on")
        )
        .outerjoin(InstrumentResponse, done_at_event)
        .group_by(Participant.id)
    )


def _grouped_done(counted_responses: tuple[ColumnElement[bool], ...]) -> Any:
    """Per participant and event: the instruments done and the last collection day."""
    return (
        select(
            InstrumentResponse.participant_id.label("participant_id"),
            InstrumentResponse.event.label("event"),
            func.count(func.distinct(InstrumentResponse.instrument_name)).label("n_done"),
            func.max(InstrumentResponse.collected_on).label("last_on"),
        )
        .where(*counted_responses)
        .group_by(InstrumentResponse.participant_id, InstrumentResponse.event)
        .subquery("grouped_done")
    )


def completed_events_query(
    events: list[ScheduleEvent], due_by_event: Mapping[str, list[str]]
) -> Select:
    """``participant_id``, ``site``, ``event`` of each event an enrolled service user
    has completed: the rows :func:`schedule_query` gives the status ``completed`` (every
    instrument due there complete, whatever the day), without the due dates, windows
    and other statuses it computes for every row (a count of completed assessments
    needs none of them)."""
    grouped = _grouped_done(_counted_responses(events, due_by_event))
    per_event = [
        select(
            Participant.id.label("participant_id"),
            Participant.site_code.label("site"),
            cast(literal(e.name), String).label("event"),
            cast(literal(max(len(due_by_event.get(e.name, [])), 1)), Integer).label("n_due"),
        ).where(
            Participant.category == "service_user",
            Participant.enrolment_date.is_not(None),
            Participant.deleted_at.is_(None),
        )
        for e in events
    ]
    if not per_event:
        return select(
            Participant.id.label("participant_id"),
            Participant.site_code.label("site"),
            cast(literal(""), String).label("event"),
        ).where(false())
    due = (union_all(*per_event) if len(per_event) > 1 else per_event[0]).subquery("due")
    return select(due.c.participant_id, due.c.site, due.c.event).join(
        grouped,
        and_(
            grouped.c.participant_id == due.c.participant_id,
            grouped.c.event == due.c.event,
            grouped.c.n_done >= due.c.n_due,
            grouped.c.last_on.is_not(None),
        ),
    )


def schedule_rows(
    session: Session,
    as_of: date,
    *,
    site: str | None = None,
    status: str | None = None,
    event: str | None = None,
    participant_id: int | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[ScheduleRow]:
    """Every (participant, event) of the enrolled service users in scope with due date,
    window and status as of ``as_of`` (filtered by site, status, event, participant)."""
    from flask import current_app

    from trialdm.instruments.queries import instruments_due_by_event

    stmt = schedule_query(
        as_of,
        schedule_events(current_app.config),
        current_app.config["SCHEDULE_WINDOW_DAYS"],
        instruments_due_by_event(session),
        site=site,
        status=status,
        event=event,
        participant_id=participant_id,
    )
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    # On the connection, with the site scope the session's listener would add: the
    # ORM's loading copies every row into two lists of tuples first (113 MB more at
    # 100,000 participants). The whole trial is 400,000 rows, none of them in a cycle:
    # the collector's passes over them while they are made took a sixth of the call,
    # and more the more rows are kept. The statement's columns are the fields in order.
    with cyclic_collector_paused():
        return [ScheduleRow(*row) for row in execute_scoped_rows(session, stmt)]


def count_schedule_rows(session: Session, as_of: date, **filters: Any) -> int:
    from flask import current_app

    from trialdm.instruments.queries import instruments_due_by_event

    stmt = schedule_query(
        as_of,
        schedule_events(current_app.config),
        current_app.config["SCHEDULE_WINDOW_DAYS"],
        instruments_due_by_event(session),
        **filters,
    )
    return session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


def open_events(
    session: Session,
    as_of: date,
    statuses: tuple[str, ...],
    participant_ids: Collection[int] | None = None,
) -> list[tuple[Any, ...]]:
    """Every event in scope with one of ``statuses`` (of those whose window is open on
    ``as_of``: due, overdue), of ``participant_ids`` alone when given: one statement.
    Each is a tuple of :class:`ScheduleRow`'s fields in order (a site's thousands of
    rows are kept as they come; ``ScheduleRow(*values)`` makes one a row)."""
    from flask import current_app

    from trialdm.instruments.queries import instruments_due_by_event

    stmt = schedule_query(
        as_of,
        schedule_events(current_app.config),
        current_app.config["SCHEDULE_WINDOW_DAYS"],
        instruments_due_by_event(session),
        participant_ids=participant_ids,
        open_on_day=True,
    )
    stmt = stmt.where(stmt.selected_columns.status.in_(statuses)).order_by(None)
    return [tuple(row) for row in session.execute(stmt)]
