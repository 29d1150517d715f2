"""``/api/v1/schedule`` (due and overdue assessments of your sites) and
``/api/v1/participants/<id>/schedule`` (one participant's events)."""

from __future__ import annotations

from dataclasses import asdict

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from trialdm.auth.permissions import requires
from trialdm.core.errors import N_, Message, ValidationFailed
from trialdm.extensions import db
from trialdm.instruments.models import InstrumentResponse
from trialdm.instruments.queries import instruments_due_by_event
from trialdm.participants.queries import get_participant
from trialdm.schedule.grid import status_grid
from trialdm.schedule.queries import count_schedule_rows, schedule_events, schedule_rows
from trialdm.schedule.schemas import (
    AsOfArgs,
    ParticipantScheduleOut,
    SchedulePage,
    ScheduleQuery,
    StatusGridOut,
    StatusQuery,
)
from trialdm.sites.queries import scope_today, site_today

blp = Blueprint(
    "schedule", __name__, url_prefix="/api/v1", description="Assessment schedule (T0-T3)"
)


@blp.route("/schedule")
class Schedule(MethodView):
    @requires("schedule.read")
    @blp.arguments(ScheduleQuery, location="query")
    @blp.response(200, SchedulePage)
    def get(self, args):
        """Events of the enrolled service users of your sites with due date, window and
        status as of a date; filter by site, status (e.g. overdue) and event."""
        as_of = args.get("as_of") or scope_today(db.session, args.get("site"))
        config = current_app.config
        per_page = min(args.get("per_page") or config["DEFAULT_PAGE_SIZE"], config["MAX_PAGE_SIZE"])
        filters = {k: args.get(k) for k in ("site", "status", "event")}
        total = count_schedule_rows(db.session, as_of, **filters)
        rows = schedule_rows(
            db.session, as_of, limit=per_page, offset=(args["page"] - 1) * per_page, **filters
        )
        return {
            "as_of": as_of,
            "items": [asdict(row) for row in rows],
            "meta": {
                "total": total,
                "page": args["page"],
                "per_page": per_page,
                "next_after": None,
            },
        }


@blp.route("/participants/<int:participant_id>/schedule")
class ParticipantSchedule(MethodView):
    @requires("schedule.read")
    @blp.arguments(AsOfArgs, location="query")
    @blp.response(200, ParticipantScheduleOut)
    def get(self, args, participant_id):
        """One participant's events, with each due instrument's response."""
        participant = get_participant(db.session, participant_id)
        as_of = args.get("as_of") or site_today(db.session, participant.site_code)
        due = instruments_due_by_event(db.session)
        responses = {
            (r.event, r.instrument_name): r
            for r in db.session.scalars(
                select(InstrumentResponse).where(
                    InstrumentResponse.participant_id == participant.id,
                    InstrumentResponse.event.is_not(None),
                    InstrumentResponse.deleted_at.is_(None),
                )
            )
        }
        events = []
        for row in schedule_rows(db.session, as_of, participant_id=participant.id):
            instruments = []
            for name in due.get(row.event, []):
                response = responses.get((row.event, name))
                instruments.append(
                    {
                        "instrument": name,
                        "response_id": response.id if response else None,
                        "status": response.status if response else "missing",
                    }
                )
            events.append({**asdict(row), "instruments": instruments})
        return {
            "participant_id": participant.id,
            "study_id": participant.study_id,
            "as_of": as_of,
            "events": events,
        }


def grid_page(args) -> dict:
    """The record status grid for the query ``args`` (shared with the page)."""
    config = current_app.config
    per_page = min(args.get("per_page") or config["DEFAULT_PAGE_SIZE"], config["MAX_PAGE_SIZE"])
    events = schedule_events(config)
    if args.get("event") and args["event"] not in {e.name for e in events}:
        names = ", ".join(e.name for e in events)
        raise ValidationFailed.field(
            "event", Message(N_("Not an event of the schedule (%(names)s)."), names=names)
        )
    grid = status_grid(
        db.session,
        args.get("as_of") or scope_today(db.session, args.get("site")),
        events,
        instruments_due_by_event(db.session),
        config["SCHEDULE_WINDOW_DAYS"],
        {k: args.get(k) for k in ("site", "arm", "event", "state")},
        args["page"],
        per_page,
    )
    grid["meta"] = {
        "total": grid.pop("total"),
        "page": args["page"],
        "per_page": per_page,
        "next_after": None,
    }
    return grid


@blp.route("/status")
class StatusGrid(MethodView):
    @requires("schedule.read")
    @blp.arguments(StatusQuery, location="query")
    @blp.response(200, StatusGridOut)
    def get(self, args):
        """The record status grid: for each enrolled participant of your sites (a page,
        by study ID), each scheduled event and each instrument due then, the state as of
        a date (not_due, due, overdue, incomplete, complete, missed, not_applicable, locked) and
        the response; counts per column over every participant of the filter. Filter by
        site, arm, event and state (participants with a cell in that state)."""
        return grid_page(args)
