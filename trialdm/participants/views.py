"""Participant pages: list, create, edit (with the reason for change), one participant,
its audit history. The same schemas and operations as ``api.py``."""

from __future__ import annotations

from datetime import date
from typing import Any

import marshmallow as ma
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from werkzeug.datastructures import MultiDict

from trialdm.auth.permissions import requires
from trialdm.core.audit import audit_context
from trialdm.core.errors import N_, Message
from trialdm.core.pagination import order_by, paginate
from trialdm.extensions import db
from trialdm.participants import operations, queries
from trialdm.participants.minimum_record import required_marks
from trialdm.participants.models import Participant
from trialdm.participants.schemas import (
    MAX_DIAGNOSIS_TEXT,
    DeleteArgs,
    ParticipantCreate,
    ParticipantQuery,
    ParticipantUpdate,
)
from trialdm.participants.vocabulary import (
    ARMS,
    CATEGORIES,
    GENDERS,
    MARITAL_STATUSES,
    OTHER_DIAGNOSIS,
    STATUSES,
)
from trialdm.web.dashboard import BySite, Widget, add_widget
from trialdm.web.forms import (
    FormErrors,
    field_errors,
    form_values,
    localise,
    submit,
)
from trialdm.web.labels import options
from trialdm.web.lists import participant_columns
from trialdm.web.sites import sites_with

bp = Blueprint("participant_pages", __name__, url_prefix="/participants")


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
            by_site=BySite(site_enrolment, dashboard_data),
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


FIELD_LABELS = {
    "site": _l("Site"),
    "category": _l("Category"),
    "gender": _l("Gender"),
    "year_of_birth": _l("Year of birth"),
    "age": _l("Age"),
    "diagnoses": _l("Diagnoses"),
    "diagnosis_other": _l("Other diagnosis"),
    "diagnosis_words": _l("Further diagnoses as written"),
    "marital_status": _l("Marital status"),
    "occupation": _l("Occupation"),
    "profession": _l("Professional background"),
    "years_of_illness": _l("Years of illness"),
    "years_in_care": _l("Years in care"),
    "enrolment_date": _l("Enrolment date"),
    "consent_date": _l("Consent date"),
    "consent_version": _l("Consent form version"),
    "arm": _l("Arm"),
    "status": _l("Status"),
    "withdrawal_date": _l("Withdrawal date"),
    "withdrawal_reason": _l("Reason for withdrawal"),
    "intervention_start": _l("Start of peer support"),
    "training_completed": _l("Training completed"),
    "active": _l("Active"),
    "reason": _l("Reason for the change"),
    "delete_reason": _l("Reason for deleting"),
    "version": _l("Version"),
}

COMMON_FIELDS = ("gender", "year_of_birth", "age", "marital_status", "occupation")
CATEGORY_FIELDS: dict[str, tuple[str, ...]] = {
    "service_user": (
        "years_of_illness",
        "years_in_care",
        "enrolment_date",
        "consent_date",
        "consent_version",
        "arm",
        "status",
        "withdrawal_date",
        "withdrawal_reason",
        "intervention_start",
    ),
    "psw": ("training_completed", "active"),
    "mhw": ("profession",),
}
DIAGNOSIS_CATEGORIES = ("service_user", "psw")


def form_fields(category: str) -> tuple[str, ...]:
    return COMMON_FIELDS + CATEGORY_FIELDS[category]


def posted_record(form: MultiDict, category: str) -> dict[str, Any]:
    """The form as the API's JSON body: the chosen codes, then the diagnoses typed as
    codes, labels or synonyms (separated by ';'), then an 'other' text."""
    data = form_values(form, form_fields(category), checkboxes=("active",))
    if category in DIAGNOSIS_CATEGORIES:
        diagnoses: list[Any] = [c for c in form.getlist("diagnoses") if c and c != OTHER_DIAGNOSIS]
        diagnoses += [w.strip() for w in form.get("diagnosis_words", "").split(";") if w.strip()]
        other = form.get("diagnosis_other", "").strip()
        if other or OTHER_DIAGNOSIS in form.getlist("diagnoses"):
            diagnoses.append({"code": OTHER_DIAGNOSIS, "text": other or None})
        data["diagnoses"] = diagnoses
    return data


def other_text_errors(failed: FormErrors, data: dict[str, Any]) -> dict[str, Any]:
    """The form's errors with the schema's refusal of the 'other' diagnosis entry
    beside the field it was typed in ("Other diagnosis"), not as an item of the list."""
    raw = failed.cause.messages if isinstance(failed.cause, ma.ValidationError) else {}
    listed = raw.get("diagnoses") if isinstance(raw, dict) else None
    entries = data.get("diagnoses") or []
    other = next((i for i, d in enumerate(entries) if isinstance(d, dict)), None)
    if not isinstance(listed, dict) or other not in listed:
        return failed.errors
    errors = dict(failed.errors)
    if set(listed) == {other}:
        errors.pop("diagnoses", None)
    limit = Message(N_("Use at most %(max)s characters."), max=MAX_DIAGNOSIS_TEXT)
    errors["diagnosis_other"] = [limit]
    return errors


def form_state(form: MultiDict) -> dict[str, Any]:
    """What the user typed, to show again after an error."""
    values: dict[str, Any] = {key: form.get(key) for key in form}
    values["diagnoses"] = form.getlist("diagnoses")
    values["active"] = form.get("active") in ("on", "true")
    return values


def record_state(participant: Participant) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in COMMON_FIELDS + tuple(f for fs in CATEGORY_FIELDS.values() for f in fs):
        value = getattr(participant, name)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        values[name] = value.isoformat() if hasattr(value, "isoformat") else value
    values["diagnoses"] = [d.code for d in participant.diagnoses]
    values["diagnosis_other"] = next(
        (d.text for d in participant.diagnoses if d.code == OTHER_DIAGNOSIS), ""
    )
    values["version"] = participant.version_id
    return values


ENROLMENT_MARK = "†"


def required_fields(category: str) -> tuple[set[str], dict[str, str]]:
    """From the trial's minimum record: the fields a form marks ``required`` (always
    needed), and a marker for the others it needs in some cases: "*" for one of a
    group (year of birth or age), "†" once the enrolment date is given."""
    marks = required_marks(category)
    markers = {name: ENROLMENT_MARK for name in marks.on_enrolment}
    markers.update({name: "*" for name in marks.one_of})
    return set(marks.always), markers


def form_context(
    category: str, site_choices: list[str], recorded: tuple[str, ...] = ()
) -> dict[str, Any]:
    """What the form shows. ``recorded`` codes that the vocabulary no longer holds
    (recorded under an earlier one) stay listed, so that saving keeps them."""
    vocabulary = queries.diagnosis_vocabulary_in_use()
    locale = get_locale()
    language = locale.language if locale else None
    stale = [
        (code, gettext("%(code)s (not in the vocabulary)", code=code))
        for code in recorded
        if code not in vocabulary
    ]
    required, markers = required_fields(category)
    return {
        "category": category,
        "required": required,
        "markers": markers,
        "enrolment_mark": ENROLMENT_MARK,
        "labels": FIELD_LABELS,
        "site_options": [(code, code) for code in site_choices],
        "site_choices": site_choices,
        "fields": set(form_fields(category)),
        "with_diagnoses": category in DIAGNOSIS_CATEGORIES,
        # "F20 · Schizophrenia" under its ICD block; a local vocabulary's label alone
        "diagnosis_groups": [
            (
                group,
                [
                    (
                        code,
                        label
                        if vocabulary.system == "local" or code == OTHER_DIAGNOSIS
                        else f"{code} · {label}",
                    )
                    for code, label in items
                ],
            )
            for group, items in vocabulary.grouped_labels(language)
        ]
        + ([(None, stale)] if stale else []),
        "diagnosis_other_allowed": vocabulary.other.allowed,
        "diagnosis_other_max": MAX_DIAGNOSIS_TEXT,
        "diagnosis_other_needs_text": vocabulary.other.requires_text,
        "genders": options(GENDERS),
        "marital_statuses": options(MARITAL_STATUSES),
        "arms": options(ARMS),
        "statuses": options(STATUSES),
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
    # A column's filter (a derived status) is costly: evaluated once, with the page.
    page = paginate(
        db.session, stmt, {**args, "per_page": 25}, Participant.id, count_with_page=filtered
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
