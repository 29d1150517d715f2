"""The record status grid page: the same query and arguments as ``GET /api/v1/status``."""

from __future__ import annotations

import marshmallow as ma
from flask import Blueprint, current_app, render_template, request
from flask_login import login_required

from trialdm.auth.permissions import requires
from trialdm.core.errors import N_, ValidationFailed
from trialdm.core.scoping import current_scope
from trialdm.extensions import db
from trialdm.participants.vocabulary import ARMS
from trialdm.schedule.api import grid_page
from trialdm.schedule.grid import CELL_STATES
from trialdm.schedule.queries import schedule_events
from trialdm.schedule.schemas import StatusQuery
from trialdm.sites.queries import all_sites

bp = Blueprint("status_pages", __name__, url_prefix="/status")


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
        sites=[site.code for site in all_sites(db.session) if current_scope().allows(site.code)],
        arms=ARMS,
        states=CELL_STATES,
        events=[e.name for e in schedule_events(current_app.config)],
        query={k: v for k, v in raw.items() if k != "page"},
    )
