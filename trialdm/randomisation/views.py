"""Randomisation pages: the allocation panel of the participant page with a button
that asks for confirmation, and the statistician's page of lists and balance."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import login_required
from werkzeug.wrappers import Response

from trialdm.auth.permissions import requires
from trialdm.core.errors import DomainError
from trialdm.extensions import db
from trialdm.participants.models import Participant
from trialdm.participants.queries import get_participant
from trialdm.randomisation import operations, queries
from trialdm.web.dashboard import Widget, add_widget
from trialdm.web.forms import field_errors
from trialdm.web.panels import Panel, add_participant_panel

bp = Blueprint("randomisation_pages", __name__, url_prefix="/randomisation")


@bp.record_once
def _register_panel(state) -> None:
    add_participant_panel(
        state.app,
        Panel("randomisation", "participants.read", "randomisation/panel.html", panel_data, 5),
    )
    # For those who may see the balance (statistician, admin): allocations by site and
    # arm, with the way to the balance per stratum.
    add_widget(
        state.app,
        Widget(
            "allocations",
            "randomisation.report",
            "widgets/allocations.html",
            widget_data,
            15,
            daily_for=frozenset({"statistician"}),
        ),
    )


def widget_data(session) -> dict[str, Any]:
    """Allocations by site and arm (every stratum summed) from the balance report."""
    report = queries.balance(session)
    sites: dict[str, dict[str, int]] = {}
    for stratum in report["strata"]:
        row = sites.setdefault(stratum["site"], dict.fromkeys(report["ratio"], 0))
        for arm, n in stratum["arms"].items():
            row[arm] = row.get(arm, 0) + n
    return {
        "arms": list(report["ratio"]),
        "sites": sorted(sites.items()),
        "totals": report["totals"],
    }


def panel_data(session, participant: Participant) -> dict[str, Any] | None:
    if participant.category != "service_user":
        return None
    allocation = queries.find_randomisation(session, participant.id)
    if allocation is None and not operations.service_randomises():
        return None
    return {
        "allocation": allocation,
        "errors": queries.errors_of(session, allocation) if allocation else [],
    }


@bp.route("/participants/<int:participant_id>", methods=["GET", "POST"])
@login_required
@requires("participants.randomise")
def randomise(participant_id: int):
    """GET asks for confirmation; POST allocates (once)."""
    participant = get_participant(db.session, participant_id)
    if request.method == "POST":
        try:
            allocation = operations.randomise(db.session, participant)
        except DomainError as exc:
            return render_template(
                "randomisation/confirm.html",
                participant=participant,
                detail=exc.detail,
                errors=field_errors(exc),
            ), exc.status
        flash(gettext("Randomised: %(arm)s.", arm=allocation.arm))
        return redirect(url_for("participant_pages.show", participant_id=participant.id))
    return render_template(
        "randomisation/confirm.html", participant=participant, detail=None, errors={}
    )


@bp.route("")
@login_required
@requires("randomisation.report")
def index():
    return render_template(
        "randomisation/index.html",
        balance=queries.balance(db.session),
        lists=queries.allocation_lists(db.session),
    )


@bp.route("/lists", methods=["POST"])
@login_required
@requires("randomisation.manage")
def generate() -> Response:
    try:
        made = operations.generate_list(db.session, request.form.get("reason") or None)
    except DomainError as exc:
        flash(exc.detail)
        return redirect(url_for("randomisation_pages.index"))
    flash(gettext("Allocation list %(id)s made.", id=made.id))
    return redirect(url_for("randomisation_pages.index"))
