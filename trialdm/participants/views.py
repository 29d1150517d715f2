"""Participant pages: list, create, edit (with the reason for change), one participant,
its audit history. The same schemas and operations as ``api.py``."""

from __future__ import annotations

from datetime import date
from typing import Any

import marshmallow as ma
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
from flask_login import login_required

from trialdm.auth.permissions import requires
from trialdm.core.audit import audit_context
from trialdm.core.pagination import order_by, paginate
from trialdm.extensions import db
from trialdm.participants import operations, queries
from trialdm.participants.forms import (
    FIELD_LABELS,
    form_context,
    form_fields,
    form_state,
    other_text_errors,
    posted_record,
    record_state,
)
from trialdm.participants.models import Participant
from trialdm.participants.schemas import (
    DeleteArgs,
    ParticipantCreate,
    ParticipantQuery,
    ParticipantUpdate,
)
from trialdm.participants.vocabulary import (
    ARMS,
    CATEGORIES,
    STATUSES,
)
from trialdm.web.dashboard import BySite, UnlessColumnsRead, Widget, add_widget
from trialdm.web.forms import (
    FormErrors,
    field_errors,
    localise,
    submit,
)
from trialdm.web.labels import options
from trialdm.web.lists import participant_columns
from trialdm.web.sites import sites_with

bp = Blueprint("participant_pages", __name__, url_prefix="/participants")

# The columns the enrolment widget reads (queries.enrolled_by_site_status_arm_day):
# an update of none of them leaves a site's stored counts as they were.
ENROLMENT_COLUMNS = frozenset(
    {"category", "site_code", "status", "arm", "enrolment_date", "deleted_at"}
)


@bp.record_once
def _register_widget(state) -> None:
    add_widget(
        state.app,
        Widget(
            "participants",
            "participants.read",
            "widgets/participants.html",
            None,
            10,
            daily_for=frozenset({"coordinator"}),
            by_site=BySite(
                site_enrolment,
                dashboard_data,
                reads=(Participant,),
                update=UnlessColumnsRead({Participant: ENROLMENT_COLUMNS}),
            ),
        ),
    )
    state.app.jinja_env.filters["diagnosis"] = diagnosis_shown


def diagnosis_shown(code: str) -> str:
    """A diagnosis code with its label in the page's language ("F20 Schizophrenia")."""
    name = queries.diagnosis_label(code, str(get_locale() or "en"))
    return f"{code} {name}" if name and name != code else code


SiteEnrolment = tuple[str, dict[tuple[str, str], int], dict[date, int]]


def site_enrolment(session, day: date) -> dict[str, SiteEnrolment]:
    """Each site's enrolled service users by arm and status, and by enrolment date."""
    table: dict[str, dict[tuple[str, str], int]] = {}
    by_day: dict[str, dict[date, int]] = {}
    for site, status, arm, enrolled, n in queries.enrolled_by_site_status_arm_day(session):
        row = table.setdefault(site, {})
        for key in (("arm", arm or ""), ("status", status or ""), ("total", "")):
            row[key] = row.get(key, 0) + n
        days = by_day.setdefault(site, {})
        days[enrolled] = days.get(enrolled, 0) + n
    return {site: (site, row, by_day.get(site, {})) for site, row in table.items()}


def dashboard_data(sites: list[SiteEnrolment], day: date) -> dict[str, Any]:
    """Enrolled service users by site, arm and status, and enrolment over time."""
    from trialdm.web.charts import enrolment_chart

    columns = [("arm", arm) for arm in ARMS] + [("status", status) for status in STATUSES]
    totals = {key: sum(row.get(key, 0) for _, row, _ in sites) for key in [*columns, ("total", "")]}
    enrolled: dict[date, int] = {}
    for _, _, by_day in sites:
        for on, n in by_day.items():
            enrolled[on] = enrolled.get(on, 0) + n
    return {
        "columns": columns,
        "rows": [(site, row) for site, row, _ in sites],
        "totals": totals,
        "chart": enrolment_chart(sorted(enrolled.items())),
    }


def writable_sites() -> list[str]:
    return sites_with("participants.write")


@bp.route("")
@login_required
@requires("participants.read")
def index():
    columns = participant_columns()
    schema_fields = ParticipantQuery().fields
    raw = {k: v for k, v in request.args.items() if v.strip()}
    # A column's own filter (e.g. fidelity) is applied by the column, once.
    own = {column.name for column in columns}
    query = {k: v for k, v in raw.items() if k in schema_fields and k not in own}
    errors: dict[str, list[str]] = {}
    try:
        args = ParticipantQuery().load(query)
    except ma.ValidationError as exc:  # show it and list unfiltered
        errors = field_errors(exc)
        args = {}
    args.setdefault("sort", "study_id")
    stmt = queries.participants_query(args)
    filtered = False
    for column in columns:
        value = raw.get(column.name)
        if value and value in dict(column.options):
            stmt = column.apply_filter(stmt, value)
            filtered = True
    stmt = order_by(stmt, args["sort"], queries.SORTABLE, Participant.id)
    # A column's filter (a derived status) is evaluated row by row up to the page's
    # end: such a list is not counted (no total, Previous/Next only).
    page = paginate(
        db.session,
        stmt,
        {**args, "per_page": 25},
        Participant.id,
        ids_first=True,
        count=not filtered,
    )
    column_values = {column.name: column.values(db.session, page["items"]) for column in columns}
    return render_template(
        "participants/index.html",
        page=page,
        args={k: v for k, v in raw.items() if k != "page"},
        errors=errors,
        sites=sites_with("participants.read"),
        filters=[
            ("category", FIELD_LABELS["category"], options(CATEGORIES)),
            ("status", FIELD_LABELS["status"], options(STATUSES)),
            ("arm", FIELD_LABELS["arm"], options(ARMS)),
        ]
        + [(column.name, column.label, column.options) for column in columns],
        columns=columns,
        column_values=column_values,
        can_create=bool(writable_sites()),
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
@requires("participants.write")
def create():
    category = request.values.get("category", "")
    if category not in CATEGORIES:
        return render_template("participants/choose_category.html", categories=options(CATEGORIES))
    sites = writable_sites()
    context = form_context(category, sites)
    if request.method == "GET":
        values = {"site": sites[0] if len(sites) == 1 else None}
        return render_template("participants/form.html", values=values, errors={}, **context)
    data = {"site": request.form.get("site") or None, "category": category}
    data.update(posted_record(request.form, category))
    try:
        participant = submit(
            ParticipantCreate(),
            data,
            lambda loaded: operations.create_participant(db.session, loaded),
        )
    except FormErrors as failed:
        db.session.rollback()
        values = form_state(request.form)
        errors = localise(other_text_errors(failed, data), FIELD_LABELS)
        return render_template(
            "participants/form.html", values=values, errors=errors, **context
        ), 422
    flash(gettext("Participant %(study_id)s was created.", study_id=participant.study_id))
    return redirect(url_for(".show", participant_id=participant.id))


@bp.route("/<int:participant_id>/edit", methods=["GET", "POST"])
@login_required
@requires("participants.write")
def edit(participant_id: int):
    participant = queries.get_participant(db.session, participant_id)
    recorded = tuple(d.code for d in participant.diagnoses)
    context = form_context(participant.category, [participant.site_code], recorded)
    if request.method == "GET":
        return render_template(
            "participants/form.html",
            participant=participant,
            values=record_state(participant),
            errors={},
            **context,
        )
    data = posted_record(request.form, participant.category)
    data["reason"] = request.form.get("reason", "").strip() or None
    version = request.form.get("version", "")

    def run(loaded: dict) -> Participant:
        with audit_context(reason=loaded["reason"]):
            return operations.update_participant(
                db.session, participant, loaded, int(version) if version.isdigit() else -1
            )

    try:
        submit(ParticipantUpdate(), data, run)
    except FormErrors as failed:
        db.session.rollback()
        errors = localise(other_text_errors(failed, data), FIELD_LABELS)
        participant = queries.get_participant(db.session, participant_id)
        values = form_state(request.form)
        return render_template(
            "participants/form.html",
            participant=participant,
            values=values,
            errors=errors,
            **context,
        ), 422
    flash(gettext("The changes were saved."))
    return redirect(url_for(".show", participant_id=participant.id))


@bp.route("/<int:participant_id>/delete", methods=["GET", "POST"])
@login_required
@requires("participants.delete")
def delete(participant_id: int):
    """Ask for a reason and confirmation, then delete softly as the API does: the
    record leaves lists and summaries and stays in the audit trail."""
    participant = queries.get_participant(db.session, participant_id)
    if request.method == "GET":
        values = {"version": participant.version_id}
        return render_template(
            "participants/delete.html",
            participant=participant,
            values=values,
            errors={},
            labels=FIELD_LABELS,
        )
    reason = request.form.get("delete_reason", "").strip() or None
    version = request.form.get("version", "")

    def run(loaded: dict) -> None:
        with audit_context(reason=loaded["reason"]):
            operations.delete_participant(
                db.session, participant, int(version) if version.isdigit() else -1
            )

    try:
        submit(DeleteArgs(), {"reason": reason}, run)
    except FormErrors as failed:
        db.session.rollback()
        errors = localise(failed.errors, FIELD_LABELS)
        if "reason" in errors:  # the page's box is called delete_reason
            errors["delete_reason"] = errors.pop("reason")
        participant = queries.get_participant(db.session, participant_id)
        values = {"version": version, "delete_reason": request.form.get("delete_reason", "")}
        return render_template(
            "participants/delete.html",
            participant=participant,
            values=values,
            errors=errors,
            labels=FIELD_LABELS,
        ), 422
    flash(gettext("Participant %(study_id)s was deleted.", study_id=participant.study_id))
    return redirect(url_for(".index"))


@bp.route("/<int:participant_id>")
@login_required
@requires("participants.read")
def show(participant_id: int):
    participant = queries.get_participant(db.session, participant_id)
    return render_template(
        "participants/show.html",
        participant=participant,
        labels=FIELD_LABELS,
        fields=form_fields(participant.category),
        sections=participant_sections(participant),
    )


def participant_sections(participant: Participant) -> list[tuple[str, dict[str, Any]]]:
    """Extra panels of the participant page from other areas (contacts, schedule...)."""
    from trialdm.web.panels import participant_panels

    return participant_panels(db.session, participant)


@bp.route("/<int:participant_id>/history")
@login_required
@requires("history.read")
def history(participant_id: int):
    from trialdm.audit.views import render_history

    participant = queries.get_participant(db.session, participant_id)
    if participant is None:
        abort(404)
    return render_history(
        "participants",
        participant.id,
        title=gettext("History of %(study_id)s", study_id=participant.study_id),
        back=url_for(".show", participant_id=participant.id),
        labels=FIELD_LABELS,
        formatters={"diagnoses": diagnoses_text},
    )


def diagnoses_text(value: Any) -> str:
    """Diagnoses as stored in the audit trail ([{"code", "text"}]) by their labels in the
    page's language ("F20 Schizophrenia"), with the words written for "other"."""
    if not value:
        return "—"
    shown = []
    for item in value if isinstance(value, list) else [value]:
        code = item.get("code") if isinstance(item, dict) else str(item)
        text = item.get("text") if isinstance(item, dict) else None
        words = diagnosis_shown(code) if code else ""
        shown.append(f"{words}: {text}" if text else words)
    return "; ".join(shown)
