"""The record status grid page (the same query and arguments as ``GET /api/v1/status``),
the due-and-overdue widget of the home page and the participant page's panel of
assessments and questionnaires."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Blueprint, current_app, render_template, request
from flask_login import login_required

from trialdm.auth.permissions import requires
from trialdm.core.errors import N_, ValidationFailed
from trialdm.core.scoping import current_scope
from trialdm.extensions import db
from trialdm.instruments import queries as instrument_queries
from trialdm.instruments.models import InstrumentResponse
from trialdm.participants.models import Participant
from trialdm.participants.vocabulary import ARMS
from trialdm.schedule.api import grid_page
from trialdm.schedule.grid import CELL_STATES
from trialdm.schedule.queries import schedule_events, schedule_rows
from trialdm.schedule.schemas import StatusQuery
from trialdm.schedule.widget import (
    schedule_result,
    schedule_widget,
    site_schedule,
    updated_site_schedule,
)
from trialdm.sites.queries import list_sites, site_today
from trialdm.web.dashboard import BySite, Widget, add_widget
from trialdm.web.panels import Panel, add_participant_panel

bp = Blueprint("status_pages", __name__, url_prefix="/status")


@bp.record_once
def _register(state) -> None:
    add_widget(
        state.app,
        Widget(
            "schedule",
            "schedule.read",
            "widgets/schedule.html",
            None,
            30,
            daily_for=frozenset({"research_worker", "site_lead"}),
            by_site=BySite(
                site_schedule,
                schedule_widget,
                schedule_inputs,
                reads=(Participant, InstrumentResponse),
                update=updated_site_schedule,
                result_of=schedule_result,
            ),
        ),
    )
    add_participant_panel(
        state.app,
        Panel("questionnaires", "responses.read", "questionnaires/panel.html", panel_data, 20),
    )


@bp.route("")
@login_required
@requires("schedule.read")
def index():
    raw = {k: v for k, v in request.args.items() if v != ""}
    try:
        args = StatusQuery().load(raw)
    except ma.ValidationError as exc:
        raise ValidationFailed(N_("The filter has errors."), errors=exc.messages) from None
    grid = grid_page(args)
    return render_template(
        "status/index.html",
        grid=grid,
        args=args,
        sites=[site.code for site in list_sites(db.session) if current_scope().allows(site.code)],
        arms=ARMS,
        states=CELL_STATES,
        events=[e.name for e in schedule_events(current_app.config)],
        query={k: v for k, v in raw.items() if k != "page"},
    )


# -- participant page panel ------------------------------------------------------------


def panel_data(session, participant: Participant) -> dict[str, Any] | None:
    responses = list(
        session.scalars(
            instrument_queries.responses_query({"participant_id": participant.id}).order_by(
                InstrumentResponse.collected_on
            )
        )
    )
    by_event = {(r.event, r.instrument_name): r for r in responses if r.event}
    schedule = []
    if participant.enrolment_date is not None and participant.category == "service_user":
        due = instrument_queries.instruments_due_by_event(session)
        for row in schedule_rows(
            session, site_today(session, participant.site_code), participant_id=participant.id
        ):
            schedule.append(
                {
                    "row": row,
                    "instruments": [
                        (name, by_event.get((row.event, name))) for name in due.get(row.event, [])
                    ],
                }
            )
    instruments = [
        v
        for v in instrument_queries.latest_versions(session)
        if participant.category in v.parsed.respondents and not v.parsed.events
    ]
    if not responses and not schedule and not instruments:
        return None
    return {"responses": responses, "schedule": schedule, "instruments": instruments}


def schedule_inputs(session) -> tuple[Any, ...]:
    """The settings and instrument versions the schedule is computed from."""
    config = current_app.config
    due = instrument_queries.instruments_due_by_event(session)
    return (
        schedule_events(config),
        config["SCHEDULE_WINDOW_DAYS"],
        sorted((event, tuple(names)) for event, names in due.items()),
    )
