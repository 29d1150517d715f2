"""Pages of data quality: the query list (per site, per participant), one query with
its conversation and the steps the user may take, opening a query from a form or a
record, signing a form or an event with the password, and unlocking. The same
schemas and operations as ``api.py``; queries and the signature are shown on the
questionnaire page through a template function."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import login_required
from sqlalchemy import select

from trialdm.auth.permissions import current_principal, requires
from trialdm.core.audit import audit_context
from trialdm.core.pagination import order_by, paginate
from trialdm.extensions import db
from trialdm.instruments.models import InstrumentResponse
from trialdm.instruments.queries import get_response
from trialdm.participants.models import Participant
from trialdm.participants.queries import get_participant
from trialdm.quality import operations, queries
from trialdm.quality.models import SIGNATURE_MEANING, DataQuery
from trialdm.quality.schemas import (
    QueryAnswer,
    QueryClose,
    QueryFilter,
    QueryOpen,
    QueryReopen,
    SignatureCreate,
    UnlockArgs,
)
from trialdm.web.dashboard import Widget, add_widget
from trialdm.web.forms import FORM_LEVEL, FormErrors, field_errors, submit
from trialdm.web.panels import Panel, add_participant_panel

bp = Blueprint("quality_pages", __name__, url_prefix="/quality")

STEPS = {
    "answer": ("queries.answer", QueryAnswer, operations.answer_query),
    "close": ("queries.close", QueryClose, operations.close_query),
    "reopen": ("queries.close", QueryReopen, operations.reopen_query),
}


def dashboard_data(session) -> dict[str, Any] | None:
    return {"counts": queries.query_counts(session)}


def participant_queries(session, participant: Participant) -> dict[str, Any]:
    stmt = queries.queries_query({"participant_id": participant.id}).order_by(DataQuery.id)
    return {"queries": list(session.scalars(stmt)), "participant": participant}


@bp.record_once
def _register(state) -> None:
    add_widget(
        state.app,
        Widget(
            "queries",
            "quality.read",
            "widgets/queries.html",
            dashboard_data,
            25,
            daily_for=frozenset({"site_lead", "monitor"}),
        ),
    )
    add_participant_panel(
        state.app,
        Panel("queries", "quality.read", "quality/participant_panel.html", participant_queries, 35),
    )


@bp.app_context_processor
def _quality_of_response() -> dict[str, Any]:
    def quality_of_response(response: InstrumentResponse) -> dict[str, Any]:
        """The queries of a response by field (None: the form as a whole) and the
        signature that locks it, for the questionnaire page."""
        principal = current_principal()
        if principal is None or not principal.has("quality.read", response.site_code):
            return {"by_field": {}, "signature": None, "shown": False}
        by_field: dict[str | None, list[DataQuery]] = {}
        for query in queries.queries_of_response(db.session, response):
            by_field.setdefault(query.field, []).append(query)
        return {
            "by_field": by_field,
            "signature": queries.standing_signature_of(db.session, response),
            "shown": True,
        }

    def unresolved_queries(participant_ids: list[int]) -> dict[int, int] | None:
        """Open or answered queries per participant, for the status grid (None when
        the user may not read queries)."""
        principal = current_principal()
        if principal is None or not principal.has("quality.read"):
            return None
        return queries.unresolved_by_participant(db.session, list(participant_ids))

    return {
        "quality_of_response": quality_of_response,
        "unresolved_queries": unresolved_queries,
    }


def _people(ids: set[int]) -> dict[int, Participant]:
    if not ids:
        return {}
    return {p.id: p for p in db.session.scalars(select(Participant).where(Participant.id.in_(ids)))}


@bp.route("/queries")
@login_required
@requires("quality.read")
def index():
    fields = QueryFilter().fields
    raw = {k: v for k, v in request.args.items() if v.strip() and k in fields}
    errors: dict[str, list[str]] = {}
    try:
        args = QueryFilter().load(raw)
    except ma.ValidationError as exc:
        errors, args = field_errors(exc), {}
    stmt = order_by(queries.queries_query(args), None, {}, DataQuery.id.desc())
    page = paginate(db.session, stmt, {**args, "per_page": 25}, DataQuery.id)
    return render_template(
        "quality/queries.html",
        page=page,
        people=_people({q.participant_id for q in page["items"]}),
        args={k: v for k, v in raw.items() if k != "page"},
        errors=errors,
        counts=queries.query_counts(db.session),
    )


def _render_query(query: DataQuery, errors: dict | None = None, values: dict | None = None):
    principal = current_principal()
    return render_template(
        "quality/query.html",
        query=query,
        participant=db.session.get(Participant, query.participant_id),
        may_close=query.origin == "check" or query.opened_by_id == principal.user_id,
        errors=errors or {},
        values=values or {},
    )


@bp.route("/queries/<int:query_id>")
@login_required
@requires("quality.read")
def show(query_id: int):
    return _render_query(queries.get_query(db.session, query_id))


def _step(action: str, query_id: int):
    _, schema, operation = STEPS[action]
    query = queries.get_query(db.session, query_id)
    text = request.form.get("text", "").strip()
    data = {"text": text} if text or action != "close" else {}
    version = request.form.get("version", "")
    expected = int(version) if version.isdigit() else -1

    def run(loaded: dict) -> DataQuery:
        return operation(db.session, current_principal(), query, loaded.get("text"), expected)

    try:
        submit(schema(), data, run)
    except FormErrors as failed:
        db.session.rollback()
        errors = dict(failed.errors)
        if "text" not in errors:
            errors[FORM_LEVEL] = [str(failed.cause)]
        query = queries.get_query(db.session, query_id)
        return _render_query(query, errors, {"text": text}), failed.status
    flash(gettext("The query is %(status)s.", status=gettext(query.status)))
    return redirect(url_for(".show", query_id=query.id))


@bp.route("/queries/<int:query_id>/answer", methods=["POST"])
@login_required
@requires("queries.answer")
def answer(query_id: int):
    return _step("answer", query_id)


@bp.route("/queries/<int:query_id>/close", methods=["POST"])
@login_required
@requires("queries.close")
def close(query_id: int):
    return _step("close", query_id)


@bp.route("/queries/<int:query_id>/reopen", methods=["POST"])
@login_required
@requires("queries.close")
def reopen(query_id: int):
    return _step("reopen", query_id)


def _target() -> tuple[Participant, InstrumentResponse | None, str | None]:
    response_id = request.values.get("response_id", "")
    participant_id = request.values.get("participant_id", "")
    field = request.values.get("field") or None
    if response_id.isdigit():
        response = get_response(db.session, int(response_id))
        return get_participant(db.session, response.participant_id), response, field
    if participant_id.isdigit():
        return get_participant(db.session, int(participant_id)), None, field
    return get_participant(db.session, -1), None, None  # 404


@bp.route("/queries/new", methods=["GET", "POST"])
@login_required
@requires("queries.open")
def create():
    participant, response, field = _target()
    context = {"participant": participant, "response": response, "field": field}
    if request.method == "GET":
        return render_template("quality/open.html", values={}, errors={}, **context)
    data: dict[str, Any] = {"question": request.form.get("question", "").strip()}
    if response is not None:
        data["response_id"] = response.id
    else:
        data["participant_id"] = participant.id
    if field:
        data["field"] = field
    try:
        query = submit(
            QueryOpen(), data, lambda d: operations.open_query(db.session, current_principal(), d)
        )
    except FormErrors as failed:
        db.session.rollback()
        return render_template(
            "quality/open.html", values=data, errors=failed.errors, **context
        ), failed.status
    flash(gettext("The query was opened."))
    return redirect(url_for(".show", query_id=query.id))


@bp.route("/sign", methods=["GET", "POST"])
@login_required
@requires("responses.sign")
def sign():
    participant, response, _ = _target()
    event = request.values.get("event") or None
    forms: list[InstrumentResponse]
    if response is not None:
        forms = [response]
    else:
        forms = list(
            db.session.scalars(
                select(InstrumentResponse).where(
                    InstrumentResponse.participant_id == participant.id,
                    InstrumentResponse.event == event,
                    InstrumentResponse.deleted_at.is_(None),
                )
            )
        )
    context = {
        "participant": participant,
        "response": response,
        "event": event,
        "forms": forms,
        "meaning": SIGNATURE_MEANING,
    }
    if request.method == "GET":
        return render_template("quality/sign.html", errors={}, **context)
    data: dict[str, Any] = {"password": request.form.get("password", "")}
    if response is not None:
        data["response_id"] = response.id
    else:
        data.update(participant_id=participant.id, event=event or "")
    try:
        submit(
            SignatureCreate(), data, lambda d: operations.sign(db.session, current_principal(), d)
        )
    except FormErrors as failed:
        db.session.rollback()
        errors = dict(failed.errors)
        if not errors:
            errors[FORM_LEVEL] = [str(failed.cause)]
        return render_template("quality/sign.html", errors=errors, **context), failed.status
    flash(gettext("Signed: %(meaning)s.", meaning=gettext(SIGNATURE_MEANING)))
    if response is not None:
        return redirect(url_for("response_pages.show", response_id=response.id))
    return redirect(url_for("participant_pages.show", participant_id=participant.id))


@bp.route("/signatures/<int:signature_id>/unlock", methods=["GET", "POST"])
@login_required
@requires("responses.unlock")
def unlock(signature_id: int):
    signature = queries.get_signature(db.session, signature_id)
    participant = get_participant(db.session, signature.participant_id)
    context = {"signature": signature, "participant": participant}
    if request.method == "GET":
        return render_template(
            "quality/unlock.html", values={"version": signature.version_id}, errors={}, **context
        )
    reason = request.form.get("reason", "").strip()
    version = request.form.get("version", "")

    def run(loaded: dict):
        with audit_context(reason=loaded["reason"]):
            return operations.unlock(
                db.session,
                current_principal(),
                signature,
                loaded["reason"],
                int(version) if version.isdigit() else -1,
            )

    try:
        submit(UnlockArgs(), {"reason": reason} if reason else {}, run)
    except FormErrors as failed:
        db.session.rollback()
        errors = dict(failed.errors)
        if not errors:
            errors[FORM_LEVEL] = [str(failed.cause)]
        values = {"reason": reason, "version": version}
        return render_template(
            "quality/unlock.html", values=values, errors=errors, **context
        ), failed.status
    flash(gettext("Unlocked; the forms can be changed again."))
    if signature.response_id is not None:
        return redirect(url_for("response_pages.show", response_id=signature.response_id))
    return redirect(url_for("participant_pages.show", participant_id=participant.id))
