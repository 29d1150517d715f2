"""Focus-group and interview pages: list, record one with its members (chosen from the
site's participants), the session page with members and field notes, add a member,
edit with a reason, history. The same schemas and operations as ``api.py``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from sqlalchemy import select

from trialdm.auth.permissions import requires
from trialdm.core.audit import audit_context
from trialdm.core.pagination import order_by, paginate
from trialdm.extensions import db
from trialdm.participants.models import Participant
from trialdm.qualitative import operations, queries
from trialdm.qualitative.models import MODES, QualitativeSession
from trialdm.qualitative.schemas import MemberAdd, QualitativeCreate, QualitativeUpdate
from trialdm.sites.queries import site_today
from trialdm.web.forms import FormErrors, as_int, as_ints, form_values, submit
from trialdm.web.labels import options
from trialdm.web.sites import sites_with

bp = Blueprint("qualitative_pages", __name__, url_prefix="/qualitative")

KIND_PATHS = {"focus_group": "focus-groups", "interview": "interviews"}
FIELD_LABELS = {
    "site": _l("Site"),
    "date": _l("Date"),
    "start_time": _l("Start time"),
    "duration_min": _l("Duration (minutes)"),
    "location": _l("Location"),
    "mode": _l("Mode"),
    "language": _l("Language"),
    "moderator_role": _l("Moderator"),
    "assistant_role": _l("Assistant"),
    "topic_guide_ref": _l("Topic guide"),
    "consent_recorded": _l("Consent recorded"),
    "field_notes": _l("Field notes"),
    "audio_ref": _l("Audio file reference"),
    "members": _l("Members"),
    "participant_id": _l("Participant"),
    "member_code": _l("Member code"),
    "reason": _l("Reason for the change"),
    "version": _l("Version"),
}
TEXT_FIELDS = (
    "date",
    "start_time",
    "location",
    "mode",
    "language",
    "moderator_role",
    "assistant_role",
    "topic_guide_ref",
    "field_notes",
    "audio_ref",
)


def posted_session(form) -> dict[str, Any]:
    data = form_values(form, TEXT_FIELDS)
    data["duration_min"] = as_int(form.get("duration_min"))
    data["consent_recorded"] = form.get("consent_recorded") in ("on", "true", "1")
    return data


def site_people(site_code: str) -> list[Participant]:
    return list(
        db.session.scalars(
            select(Participant)
            .where(Participant.site_code == site_code, Participant.deleted_at.is_(None))
            .order_by(Participant.category, Participant.study_id)
        )
    )


def show_url(record: QualitativeSession) -> str:
    endpoint = ".focus_group" if record.kind == "focus_group" else ".interview"
    param = "focus_group_id" if record.kind == "focus_group" else "interview_id"
    return url_for(endpoint, **{param: record.id})


@bp.route("")
@login_required
@requires("qualitative.read")
def index():
    lists = {}
    for kind in KIND_PATHS:
        stmt = order_by(
            queries.sessions_query(kind, {}), "-date", queries.SORTABLE, QualitativeSession.id
        )
        lists[kind] = paginate(db.session, stmt, {"per_page": 50}, QualitativeSession.id)
    return render_template(
        "qualitative/index.html",
        lists=lists,
        show_url=show_url,
        can_record=bool(sites_with("qualitative.write")),
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
@requires("qualitative.write")
def create():
    kind = request.values.get("kind", "")
    sites = sites_with("qualitative.write")
    site = (request.values.get("site") or (sites[0] if len(sites) == 1 else "")).upper()
    if kind not in KIND_PATHS or site not in sites:
        return render_template("qualitative/choose.html", sites=sites, kind=kind)
    context = {
        "kind": kind,
        "site": site,
        "labels": FIELD_LABELS,
        "modes": options(m for m in MODES if kind == "interview" or m != "phone"),
        "people": site_people(site),
    }
    if request.method == "GET":
        day = site_today(db.session, site)
        values = {"date": day.isoformat(), "mode": "in_person", "members": []}
        return render_template("qualitative/form.html", values=values, errors={}, **context)
    data = {"site": site, **posted_session(request.form)}
    data["members"] = [{"participant_id": pid} for pid in as_ints(request.form.getlist("members"))]
    try:
        record = submit(
            QualitativeCreate(),
            data,
            lambda loaded: operations.create_session(db.session, kind, loaded),
        )
    except FormErrors as failed:
        db.session.rollback()
        values = {**data, "members": [m["participant_id"] for m in data["members"]]}
        return render_template(
            "qualitative/form.html", values=values, errors=failed.errors, **context
        ), 422
    flash(gettext("Recorded."))
    return redirect(show_url(record))


def render_session(kind: str, session_id: int, member_errors=None, member_values=None):
    record = queries.get_session(db.session, kind, session_id)
    people = {p.id: p for p in site_people(record.site_code)}
    member_ids = {m.participant_id for m in record.current_members}
    return render_template(
        "qualitative/show.html",
        record=record,
        people=people,
        candidates=[p for pid, p in people.items() if pid not in member_ids],
        labels=FIELD_LABELS,
        errors=member_errors or {},
        values=member_values or {},
        id_param={"focus_group_id" if kind == "focus_group" else "interview_id": record.id},
    ), (422 if member_errors else 200)


@bp.route("/focus-groups/<int:focus_group_id>")
@login_required
@requires("qualitative.read")
def focus_group(focus_group_id: int):
    return render_session("focus_group", focus_group_id)


@bp.route("/interviews/<int:interview_id>")
@login_required
@requires("qualitative.read")
def interview(interview_id: int):
    return render_session("interview", interview_id)


def kind_and_id(focus_group_id: int | None, interview_id: int | None) -> tuple[str, int]:
    if focus_group_id is not None:
        return "focus_group", focus_group_id
    if interview_id is not None:
        return "interview", interview_id
    abort(404)


@bp.route("/focus-groups/<int:focus_group_id>/members", methods=["POST"])
@bp.route("/interviews/<int:interview_id>/members", methods=["POST"])
@login_required
@requires("qualitative.write")
def add_member(focus_group_id: int | None = None, interview_id: int | None = None):
    kind, session_id = kind_and_id(focus_group_id, interview_id)
    record = queries.get_session(db.session, kind, session_id)
    data: dict[str, Any] = {
        "participant_id": as_int(request.form.get("participant_id")),
        "member_code": request.form.get("member_code", "").strip() or None,
    }
    if request.form.get("reason", "").strip():
        data["reason"] = request.form["reason"].strip()
    try:
        submit(MemberAdd(), data, lambda loaded: operations.add_member(db.session, record, loaded))
    except FormErrors as failed:
        db.session.rollback()
        return render_session(kind, session_id, failed.errors, data)
    flash(gettext("The member was added."))
    return redirect(show_url(record))


@bp.route("/focus-groups/<int:focus_group_id>/edit", methods=["GET", "POST"])
@bp.route("/interviews/<int:interview_id>/edit", methods=["GET", "POST"])
@login_required
@requires("qualitative.write")
def edit(focus_group_id: int | None = None, interview_id: int | None = None):
    kind, session_id = kind_and_id(focus_group_id, interview_id)
    record = queries.get_session(db.session, kind, session_id)
    context = {
        "kind": kind,
        "site": record.site_code,
        "record": record,
        "labels": FIELD_LABELS,
        "modes": options(m for m in MODES if kind == "interview" or m != "phone"),
        "people": [],
    }
    if request.method == "GET":
        values = {name: getattr(record, name) for name in (*TEXT_FIELDS, "duration_min")}
        values = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in values.items()}
        if record.start_time:
            values["start_time"] = record.start_time.strftime("%H:%M")
        values["consent_recorded"] = record.consent_recorded
        values["version"] = record.version_id
        return render_template("qualitative/form.html", values=values, errors={}, **context)
    data = posted_session(request.form)
    data["reason"] = request.form.get("reason", "").strip() or None
    version = request.form.get("version", "")

    def run(loaded: dict) -> QualitativeSession:
        with audit_context(reason=loaded["reason"]):
            return operations.update_session(
                db.session, record, loaded, int(version) if version.isdigit() else -1
            )

    try:
        submit(QualitativeUpdate(), data, run)
    except FormErrors as failed:
        db.session.rollback()
        errors = failed.errors
        context["record"] = queries.get_session(db.session, kind, session_id)
        values = {**data, "version": version}
        return render_template(
            "qualitative/form.html", values=values, errors=errors, **context
        ), 422
    flash(gettext("The changes were saved."))
    return redirect(show_url(record))


@bp.route("/focus-groups/<int:focus_group_id>/history")
@bp.route("/interviews/<int:interview_id>/history")
@login_required
@requires("history.read")
def history(focus_group_id: int | None = None, interview_id: int | None = None):
    from trialdm.audit.views import render_history

    kind, session_id = kind_and_id(focus_group_id, interview_id)
    record = queries.get_session(db.session, kind, session_id)
    return render_history(
        "qualitative_sessions",
        record.id,
        title=gettext("History of the session of %(date)s", date=record.date.isoformat()),
        back=show_url(record),
        labels=FIELD_LABELS,
    )
