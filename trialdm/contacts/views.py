"""Contact session pages: record a session quickly (PSWs and attendees chosen from the
site's lists), the list of sessions, one session; the fidelity widget, the fidelity
column of the participant list and the contact timeline of the participant page.
The same schemas and operations as ``api.py``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import marshmallow as ma
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from sqlalchemy import select

from trialdm.auth.permissions import requires
from trialdm.contacts import operations, queries
from trialdm.contacts.hooks import with_fidelity_status_today
from trialdm.contacts.models import FIDELITY_STATUSES, FORMATS, MODES, ContactSession
from trialdm.contacts.psws import psw_criteria
from trialdm.contacts.schemas import ContactSessionCreate, ContactSessionQuery
from trialdm.contacts.widget import (
    fidelity_inputs,
    fidelity_result,
    fidelity_widget,
    site_fidelity,
    updated_site_fidelity,
)
from trialdm.core.errors import ErrorCollector
from trialdm.core.pagination import order_by, paginate
from trialdm.extensions import db
from trialdm.participants.models import Participant
from trialdm.randomisation.models import Randomisation
from trialdm.sites.queries import site_today
from trialdm.web.dashboard import BySite, Widget, add_widget
from trialdm.web.forms import FormErrors, as_int, as_ints, field_errors, submit
from trialdm.web.labels import format_day, options
from trialdm.web.lists import ListColumn, add_participant_column
from trialdm.web.panels import Panel, add_participant_panel
from trialdm.web.sites import sites_with

bp = Blueprint("contact_pages", __name__, url_prefix="/contacts")

FIELD_LABELS = {
    "site": _l("Site"),
    "date": _l("Date"),
    "start_time": _l("Start time"),
    "format": _l("Format"),
    "mode": _l("Mode"),
    "duration_min": _l("Duration (minutes)"),
    "place": _l("Place"),
    "notes": _l("Notes"),
    "psws": _l("Peer support workers"),
    "attendees": _l("Attendees"),
    "attendances": _l("Attendees"),
    "psw_links": _l("Peer support workers"),
    "reason": _l("Reason for the change"),
}


@bp.record_once
def _register(state) -> None:
    add_widget(
        state.app,
        Widget(
            "fidelity",
            "fidelity.read",
            "widgets/fidelity.html",
            None,
            20,
            daily_for=frozenset({"research_worker", "site_lead", "coordinator"}),
            by_site=BySite(
                site_fidelity,
                fidelity_widget,
                fidelity_inputs,
                # a session's attendances are audited as the session's
                reads=(Participant, Randomisation, ContactSession),
                update=updated_site_fidelity,
                result_of=fidelity_result,
            ),
        ),
    )
    add_participant_column(
        state.app,
        ListColumn(
            "fidelity",
            _l("Fidelity"),
            "fidelity.read",
            options(FIDELITY_STATUSES),
            with_fidelity_status_today,
            fidelity_codes,
        ),
    )
    add_participant_panel(
        state.app,
        Panel("contacts", "contacts.read", "contacts/timeline_panel.html", timeline_data, 10),
    )


# -- fidelity in other areas' pages -------------------------------------------------


def fidelity_codes(session, participants: list[Participant]) -> dict[int, str]:
    found = queries.fidelity_for(
        session, (p.id for p in participants), sites={p.site_code for p in participants}
    )
    return {pid: row["status"] for pid, row in found.items()}


def timeline_data(session, participant: Participant) -> dict[str, Any] | None:
    """Contacts of a participant against their intervention window, drawn as SVG."""
    if participant.category == "psw":
        return None
    sessions = list(
        session.scalars(
            order_by(
                queries.contact_sessions_query({"participant_id": participant.id}),
                "date",
                queries.SORTABLE,
                ContactSession.id,
            )
        )
    )
    fidelity = queries.fidelity_for(session, [participant.id], sites=[participant.site_code]).get(
        participant.id
    )
    if not sessions and fidelity is None:
        return None
    return {
        "sessions": sessions,
        "fidelity": fidelity,
        "chart": timeline_chart(sessions, fidelity, site_today(session, participant.site_code)),
    }


def timeline_chart(
    sessions: list[ContactSession], fidelity: dict | None, today: date, width: int = 320
) -> dict[str, Any]:
    """Geometry: the window as a band, each contact as a mark, today as a line."""
    days = [s.date for s in sessions]
    start = fidelity["window_start"] if fidelity and fidelity["window_start"] else None
    end = fidelity["window_end"] if fidelity and fidelity["window_end"] else None
    points = [d for d in [*days, start, end, today] if d is not None]
    first, last = min(points) - timedelta(days=7), max(points) + timedelta(days=7)
    span = max((last - first).days, 1)
    pad, inner = 10, width - 20

    def x(day: date) -> float:
        return round(pad + inner * (day - first).days / span, 1)

    ticks = []
    month = date(first.year, first.month, 1)
    while month <= last:
        if month >= first:
            ticks.append((x(month), f"{month:%b}" if month.month != 1 else f"{month:%Y}"))
        month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    return {
        "width": width,
        "height": 70,
        "window": (x(start), round(x(end) - x(start), 1)) if start and end else None,
        "contacts": [(x(s.date), s.format, f"{s.date.isoformat()} · {s.format}") for s in sessions],
        "today": x(today),
        "ticks": ticks,
    }


# -- pages --------------------------------------------------------------------------


@bp.route("")
@login_required
@requires("contacts.read")
def index():
    fields = ContactSessionQuery().fields
    raw = {k: v for k, v in request.args.items() if v.strip() and k in fields}
    errors: dict[str, list[str]] = {}
    try:
        args = ContactSessionQuery().load(raw)
    except ma.ValidationError as exc:
        errors, args = field_errors(exc), {}
    stmt = order_by(
        queries.contact_sessions_query(args), "-date", queries.SORTABLE, ContactSession.id.desc()
    )
    page = paginate(db.session, stmt, {**args, "per_page": 25}, ContactSession.id)
    people = _people_by_id({pid for s in page["items"] for pid in (*s.psw_ids, *s.attendee_ids)})
    return render_template(
        "contacts/index.html",
        page=page,
        people=people,
        args={k: v for k, v in raw.items() if k != "page"},
        errors=errors,
        sites=sites_with("contacts.read"),
        formats=options(FORMATS),
        can_record=bool(sites_with("contacts.write")),
    )


def _people_by_id(ids) -> dict[int, Participant]:
    if not ids:
        return {}
    rows = db.session.scalars(select(Participant).where(Participant.id.in_(sorted(ids))))
    return {p.id: p for p in rows}


def candidates(site_code: str) -> tuple[list[Participant], list[Participant], dict]:
    """The site's active PSWs and its intervention participants (not withdrawn)."""
    psws = list(
        db.session.scalars(
            select(Participant)
            .where(*psw_criteria(site_code, active=True))
            .order_by(Participant.study_id)
        )
    )
    attendees = list(
        db.session.scalars(
            select(Participant)
            .where(
                Participant.site_code == site_code,
                *queries.intervention_criteria(),
                Participant.status.is_distinct_from("withdrawn"),
            )
            .order_by(Participant.study_id)
        )
    )
    fidelity = queries.fidelity_for(db.session, (p.id for p in attendees), sites=[site_code])
    return psws, attendees, fidelity


def posted_session(form) -> dict[str, Any]:
    data: dict[str, Any] = {
        name: (form.get(name, "").strip() or None)
        for name in ("date", "start_time", "format", "mode", "place", "notes")
    }
    data["duration_min"] = as_int(form.get("duration_min"))
    data["psws"] = as_ints(form.getlist("psws"))
    data["attendees"] = as_ints(form.getlist("attendees"))
    return data


def session_problems(site: str, partial: dict[str, Any]) -> dict[str, list[str]]:
    """The session rules over the fields the schema accepted (see ``submit``)."""
    errors = ErrorCollector()
    operations.check_contact_session(db.session, site, partial, errors)
    return errors.errors


@bp.route("/new", methods=["GET", "POST"])
@login_required
@requires("contacts.write")
def create():
    sites = sites_with("contacts.write")
    site = (request.values.get("site") or (sites[0] if len(sites) == 1 else "")).upper()
    if site not in sites:
        return render_template("contacts/choose_site.html", sites=sites)
    psws, attendees, fidelity = candidates(site)
    context = {
        "site": site,
        "psw_choices": psws,
        "attendee_choices": attendees,
        "fidelity": fidelity,
        "labels": FIELD_LABELS,
        "formats": options(FORMATS),
        "modes": options(MODES),
    }
    if request.method == "GET":
        day = site_today(db.session, site)
        values = {"date": day.isoformat(), "format": "individual", "mode": "in_person"}
        if request.args.get("attendee", "").isdigit():
            values["attendees"] = [int(request.args["attendee"])]
        return render_template("contacts/form.html", values=values, errors={}, **context)
    data = {"site": site, **posted_session(request.form)}
    try:
        contact = submit(
            ContactSessionCreate(),
            data,
            lambda loaded: operations.create_contact_session(db.session, loaded),
            check=lambda partial: session_problems(site, partial),
        )
    except FormErrors as failed:
        db.session.rollback()
        values = {**data, "psws": data["psws"], "attendees": data["attendees"]}
        return render_template(
            "contacts/form.html", values=values, errors=failed.errors, **context
        ), 422
    flash(
        gettext(
            "The session of %(date)s with %(n)s attendee(s) was recorded.",
            date=contact.date.isoformat(),
            n=len(contact.attendee_ids),
        )
    )
    return redirect(url_for(".show", contact_session_id=contact.id))


@bp.route("/<int:contact_session_id>")
@login_required
@requires("contacts.read")
def show(contact_session_id: int):
    contact = queries.get_contact_session(db.session, contact_session_id)
    people = _people_by_id({*contact.psw_ids, *contact.attendee_ids})
    return render_template(
        "contacts/show.html", contact=contact, people=people, labels=FIELD_LABELS
    )


@bp.route("/<int:contact_session_id>/history")
@login_required
@requires("history.read")
def history(contact_session_id: int):
    from trialdm.audit.views import ids_in_changes, render_history

    contact = queries.get_contact_session(db.session, contact_session_id)
    people = _study_ids(
        ids_in_changes("contact_sessions", contact.id, ("attendances", "psw_links"))
    )
    return render_history(
        "contact_sessions",
        contact.id,
        title=gettext("History of the session of %(date)s", date=format_day(contact.date)),
        back=url_for(".show", contact_session_id=contact.id),
        labels=FIELD_LABELS,
        formatters={"attendances": people, "psw_links": people},
    )


def _study_ids(ids: Any) -> Callable[[Any], str]:
    """A formatter of participant ids as their study IDs (one query per page)."""
    from trialdm.audit.views import plain_value

    wanted = sorted({int(i) for i in ids if isinstance(i, int)})
    found = (
        dict(
            db.session.execute(
                select(Participant.id, Participant.study_id).where(Participant.id.in_(wanted))
            ).all()
        )
        if wanted
        else {}
    )

    def show(value: Any) -> str:
        if isinstance(value, list):
            return ", ".join(show(v) for v in value) or "—"
        return found.get(value, str(value)) if isinstance(value, int) else plain_value(value)

    return show
