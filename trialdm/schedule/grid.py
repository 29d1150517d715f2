"""The record status grid: participants x scheduled events x instruments due then.

Each cell's state, as of a date:

- ``locked``: the live response is signed (a standing e-signature of its form or
  its event: :mod:`trialdm.core.locking` says how, the quality domain locks);
- ``complete`` / ``incomplete``: the live response of that participant, event and
  instrument is complete / saved but not complete;
- ``not_applicable``: no response, and the participant withdrew on or before the end
  of the event's window;
- ``not_due``: no response, before the window opens;
- ``due``: the window is open, up to and including the due date;
- ``overdue``: past the due date, the window still open;
- ``missed``: the window closed without a response.

The cells are computed set-based in SQL: one statement for the cells of a page of
participants, one for the counts per column over every participant of the filter,
one for the number of participants, whatever their number. The site scope applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import (
    Date,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from trialdm.core.locking import locked_condition
from trialdm.core.sqldates import add_months
from trialdm.instruments.models import InstrumentResponse
from trialdm.participants.models import Participant
from trialdm.schedule.queries import ScheduleEvent, add_days, window_whens

CELL_STATES = (
    "not_due",
    "due",
    "overdue",
    "incomplete",
    "complete",
    "missed",
    "not_applicable",
    "locked",
)


@dataclass(frozen=True)
class Column:
    event: str
    instrument: str

    @property
    def key(self) -> str:
        return f"{self.event}/{self.instrument}"


@dataclass
class GridRow:
    participant_id: int
    study_id: str
    site: str
    arm: str | None
    cells: list[dict[str, Any]] = field(default_factory=list)


def grid_columns(
    events: list[ScheduleEvent], due_by_event: Mapping[str, list[str]], event: str | None = None
) -> list[Column]:
    return [
        Column(e.name, name)
        for e in events
        if event is None or e.name == event
        for name in sorted(due_by_event.get(e.name, []))
    ]


def participants_of(filters: Mapping[str, Any]) -> Select:
    """Enrolled service users of the filter (site, arm), by study ID."""
    stmt = select(Participant.id).where(
        Participant.category == "service_user",
        Participant.enrolment_date.is_not(None),
        Participant.deleted_at.is_(None),
    )
    if filters.get("site"):
        stmt = stmt.where(Participant.site_code == filters["site"])
    if filters.get("arm"):
        stmt = stmt.where(Participant.arm == filters["arm"])
    return stmt


def cells_query(
    as_of: date,
    events: list[ScheduleEvent],
    columns: list[Column],
    window_days: int,
    participant_ids: Select,
) -> Select:
    """One row per (participant of ``participant_ids``, column) with its state."""
    months = {e.name: e.months for e in events}
    column_table = union_all(
        *[
            select(
                cast(literal(c.event), String).label("event"),
                cast(literal(c.instrument), String).label("instrument"),
                cast(literal(months[c.event]), Integer).label("months"),
                cast(literal(index), Integer).label("ordinal"),
            )
            for index, c in enumerate(columns)
        ]
    ).subquery("grid_columns")
    people = participant_ids.subquery("people")
    due = (
        select(
            Participant.id.label("participant_id"),
            Participant.status.label("participant_status"),
            Participant.withdrawal_date.label("withdrawal_date"),
            column_table.c.event,
            column_table.c.instrument,
            column_table.c.ordinal,
            add_months(Participant.enrolment_date, column_table.c.months).label("due_date"),
        )
        .select_from(Participant)
        .join(people, people.c.id == Participant.id)
        .join(column_table, true())
        .subquery("due")
    )
    windows = select(
        due,
        add_days(due.c.due_date, -window_days).label("window_start"),
        add_days(due.c.due_date, window_days).label("window_end"),
    ).subquery("windows")
    live = (
        select(
            InstrumentResponse.id.label("response_id"),
            InstrumentResponse.participant_id,
            InstrumentResponse.event,
            InstrumentResponse.instrument_name,
            InstrumentResponse.status,
        )
        .where(InstrumentResponse.deleted_at.is_(None), InstrumentResponse.event.is_not(None))
        .subquery("live")
    )
    day = literal(as_of, Date)
    locked = locked_condition(live.c.response_id, live.c.participant_id, live.c.event)
    signed = () if locked is None else ((and_(live.c.response_id.is_not(None), locked), "locked"),)
    state = case(
        *signed,
        (live.c.status == "complete", "complete"),
        (live.c.status == "incomplete", "incomplete"),
        *window_whens(windows, day, "not_due"),
        else_="missed",
    )
    return (
        select(
            windows.c.participant_id,
            windows.c.event,
            windows.c.instrument,
            windows.c.ordinal,
            windows.c.due_date,
            windows.c.window_start,
            windows.c.window_end,
            live.c.response_id,
            state.label("state"),
        )
        .select_from(windows)
        .outerjoin(
            live,
            and_(
                live.c.participant_id == windows.c.participant_id,
                live.c.event == windows.c.event,
                live.c.instrument_name == windows.c.instrument,
            ),
        )
    )


def status_grid(
    session: Session,
    as_of: date,
    events: list[ScheduleEvent],
    due_by_event: Mapping[str, list[str]],
    window_days: int,
    filters: Mapping[str, Any],
    page: int,
    per_page: int,
) -> dict[str, Any]:
    """A page of the grid with counts per column; three statements in all."""
    columns = grid_columns(events, due_by_event, filters.get("event"))
    people = participants_of(filters)
    if columns and filters.get("state"):
        # participants with at least one cell of that state among the columns shown
        every_cell = cells_query(as_of, events, columns, window_days, people).subquery("cells")
        people = people.where(
            Participant.id.in_(
                select(every_cell.c.participant_id).where(every_cell.c.state == filters["state"])
            )
        )
    total = session.scalar(select(func.count()).select_from(people.subquery())) or 0
    result: dict[str, Any] = {
        "as_of": as_of,
        "columns": [{"key": c.key, "event": c.event, "instrument": c.instrument} for c in columns],
        "counts": {c.key: dict.fromkeys(CELL_STATES, 0) for c in columns},
        "items": [],
        "total": total,
    }
    if not columns or not total:
        return result
    all_cells = cells_query(as_of, events, columns, window_days, people).subquery("all_cells")
    for event, instrument, state, n in session.execute(
        select(all_cells.c.event, all_cells.c.instrument, all_cells.c.state, func.count()).group_by(
            all_cells.c.event, all_cells.c.instrument, all_cells.c.state
        )
    ):
        result["counts"][f"{event}/{instrument}"][state] = n

    page_people = (
        people.order_by(Participant.study_id).limit(per_page).offset((page - 1) * per_page)
    )
    page_cells = cells_query(as_of, events, columns, window_days, page_people).subquery("page")
    stmt = (
        select(
            Participant.id,
            Participant.study_id,
            Participant.site_code,
            Participant.arm,
            page_cells,
        )
        .join(page_cells, page_cells.c.participant_id == Participant.id)
        .order_by(Participant.study_id, page_cells.c.ordinal)
    )
    rows: dict[int, GridRow] = {}
    for row in session.execute(stmt):
        grid_row = rows.get(row.id)
        if grid_row is None:
            grid_row = rows[row.id] = GridRow(row.id, row.study_id, row.site_code, row.arm)
        grid_row.cells.append(
            {
                "key": f"{row.event}/{row.instrument}",
                "event": row.event,
                "instrument": row.instrument,
                "state": row.state,
                "due_date": row.due_date,
                "window_start": row.window_start,
                "window_end": row.window_end,
                "response_id": row.response_id,
            }
        )
    result["items"] = list(rows.values())
    return result
