"""Questionnaire pages: forms generated from the instrument definitions, in the user's
language with English fallback; show-if conditions applied in the browser (static JS)
and checked again on the server by the same answer schema as the API; save incomplete
or complete."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any

import marshmallow as ma
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from sqlalchemy import select

from trialdm.auth.permissions import requires
from trialdm.core.audit import audit_context
from trialdm.core.errors import ValidationFailed
from trialdm.core.locking import refuse_if_locked
from trialdm.core.pagination import order_by, paginate
from trialdm.extensions import db
from trialdm.instruments import operations, queries
from trialdm.instruments.definitions import FieldDefinition, InstrumentDefinition
from trialdm.instruments.definitions.dates import DateBound, resolved
from trialdm.instruments.models import InstrumentResponse
from trialdm.instruments.record import record_answers
from trialdm.instruments.schemas import (
    TEXT_MAX_LENGTH,
    ResponseCreate,
    ResponseQuery,
    ResponseUpdate,
)
from trialdm.participants.models import Participant
from trialdm.participants.queries import get_participant
from trialdm.sites.queries import site_today
from trialdm.web.forms import FormErrors, field_errors, submit

bp = Blueprint("response_pages", __name__, url_prefix="/questionnaires")

FIELD_LABELS = {
    "participant_id": _l("Participant"),
    "instrument": _l("Questionnaire"),
    "event": _l("Assessment"),
    "collected_on": _l("Date collected"),
    "status": _l("Status"),
    "reason": _l("Reason for the change"),
    "version": _l("Version"),
}
ANSWER_PREFIX = "a."
_NOW_FORMATS = {
    "datetime": "%Y-%m-%d %H:%M",
    "datetime_seconds": "%Y-%m-%d %H:%M:%S",
    "time": "%H:%M",
}
_INTEGER = re.compile(r"^[+-]?\d+$")


@bp.record_once
def _register(state) -> None:
    state.app.jinja_env.filters["instrument_title"] = instrument_title
    # a text item without its own max_length takes the schema's (pages, self-report)
    state.app.jinja_env.globals["text_item_max_length"] = TEXT_MAX_LENGTH
    state.app.jinja_env.filters["date_bound"] = date_bound


def date_bound(bound: DateBound, on: date) -> str:
    """A date item's bound as the ``min``/``max`` of ``<input type=date>`` on the
    site's day ``on``."""
    day = resolved(bound, on)
    return day.isoformat() if day else ""


def language() -> str:
    return str(get_locale() or "en")


def instrument_title(name: str) -> str:
    """An instrument's title in the user's language (English when not translated), for
    every page that names an instrument; its program name only when it is unknown."""
    from flask import g

    titles = g.get("instrument_titles")
    if titles is None:
        titles = {
            v.name: queries.labels_for(v, language())["title"] or v.name
            for v in queries.latest_versions(db.session)
        }
        g.instrument_titles = titles
    return titles.get(name) or name


# -- the form <-> the API's answers ----------------------------------------------------


def condition_attrs(definition: InstrumentDefinition, f: FieldDefinition) -> dict[str, str] | None:
    """The data-show-logic attribute of a field with a show-if condition: the condition's
    tree as JSON (see :mod:`trialdm.instruments.logic.tree`), each reference carrying
    the input's name and the field's type, for the page's script to evaluate."""
    if f.show_if is None:
        return None
    fields = definition.fields_by_name

    def annotate(node: Any) -> Any:
        if isinstance(node, dict):
            out = {key: annotate(value) for key, value in node.items()}
            if "ref" in node:
                out["input"] = ANSWER_PREFIX + node["ref"]
                out["kind"] = fields[node["ref"]].type
            return out
        if isinstance(node, list):
            return [annotate(item) for item in node]
        return node

    return {"data-show-logic": json.dumps(annotate(f.show_if.tree.to_json()))}


def initial_values(definition: InstrumentDefinition, now: datetime) -> dict[str, Any]:
    """What a new form shows before anything is entered: REDCap's @DEFAULT, @TODAY and
    @NOW action tags, as the inputs hold them."""
    values: dict[str, Any] = {}
    for f in definition.fields:
        tags = f.action_tags
        if "TODAY" in tags and f.type == "date":
            values[f.name] = now.date().isoformat()
        elif "NOW" in tags and f.type == "text" and f.format in _NOW_FORMATS:
            values[f.name] = now.strftime(_NOW_FORMATS[f.format])
        elif "DEFAULT" in tags:
            default = tags["DEFAULT"]
            if f.type == "yes_no":
                default = {"1": "true", "0": "false"}.get(default, default)
            values[f.name] = default.split(",") if f.type == "multiple_choice" else default
    return values


def form_text(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def posted_answers(definition: InstrumentDefinition, form) -> dict[str, Any]:
    """The form's answers as the API's JSON: numbers as numbers, yes/no as booleans,
    anything unparsable passed on as typed for the schema to reject with its message."""
    answers: dict[str, Any] = {}
    for f in definition.fields:
        key = ANSWER_PREFIX + f.name
        if f.type == "multiple_choice":
            chosen = [v for v in form.getlist(key) if v]
            answers[f.name] = chosen or None
            continue
        raw = form.get(key, "").strip()
        if not raw:
            answers[f.name] = None
        elif f.type in ("integer", "scale"):
            answers[f.name] = int(raw) if _INTEGER.match(raw) else raw
        elif f.type == "decimal":
            try:
                answers[f.name] = float(raw.replace(",", "."))
            except ValueError:
                answers[f.name] = raw
        elif f.type == "yes_no":
            answers[f.name] = {"true": True, "false": False}.get(raw, raw)
        else:
            answers[f.name] = raw
    return answers


def form_values_of(answers: dict[str, Any]) -> dict[str, Any]:
    """Answers (typed or JSON) as the strings the inputs show."""
    values: dict[str, Any] = {}
    for name, value in answers.items():
        if value is None or isinstance(value, dict):
            continue
        values[name] = (
            [form_text(v) for v in value] if isinstance(value, list) else form_text(value)
        )
    return values


def typed_values(definition: InstrumentDefinition, form) -> dict[str, Any]:
    """The answers as the person typed them, shown again after a refused save (a
    decimal typed as 200 stays 200, an unparsable entry stays for them to correct)."""
    values: dict[str, Any] = {}
    for f in definition.fields:
        key = ANSWER_PREFIX + f.name
        if f.type == "multiple_choice":
            values[f.name] = [v for v in form.getlist(key) if v]
        elif form.get(key, "").strip():
            values[f.name] = form.get(key, "").strip()
    return values


def answer_errors(failed: FormErrors) -> dict[str, list[str]]:
    """Errors of the answers (nested under 'answers' by the operation) by field name."""
    errors = dict(failed.errors)
    cause = failed.cause
    nested = getattr(cause, "errors", None) or getattr(cause, "messages", None) or {}
    if isinstance(nested, dict) and isinstance(nested.get("answers"), dict):
        errors.pop("answers", None)
        for name, messages in field_errors(ValidationFailed(errors=nested["answers"])).items():
            errors.setdefault(name, []).extend(messages)
    return errors


def form_context(
    version, participant: Participant, event: str | None, lang: str | None = None
) -> dict[str, Any]:
    """What the questionnaire form shows, labelled in ``lang`` (default: the page's)."""
    definition: InstrumentDefinition = version.parsed
    labels = queries.labels_for(version, lang or language())
    fields = []
    section = None
    for f in definition.fields:
        text = labels["fields"][f.name]
        new_section = text["section"] if text["section"] and text["section"] != section else None
        section = text["section"] or section
        fields.append(
            {
                "definition": f,
                "name": f.name,
                "input": ANSWER_PREFIX + f.name,
                "label": text["label"] or f.name,
                "help": text["help"],
                "section": new_section,
                "choices": [
                    (form_text(c.value), text["choices"].get(str(c.value)) or str(c.value))
                    for c in f.choices
                ],
                "points": f.scale_points() if f.type == "scale" else [],
                "condition": condition_attrs(definition, f),
                "hidden": "HIDDEN" in f.action_tags,
                "readonly": "READONLY" in f.action_tags,
            }
        )
    return {
        "version": version,
        "definition": definition,
        "title": labels["title"] or definition.name,
        "description": labels["description"],
        "fields": fields,
        "participant": participant,
        "event": event,
        "labels": FIELD_LABELS,
        "site_day": site_today(db.session, participant.site_code),
    }


# -- pages ---------------------------------------------------------------------------


@bp.route("")
@login_required
@requires("responses.read")
def index():
    fields = ResponseQuery().fields
    raw = {k: v for k, v in request.args.items() if v.strip() and k in fields}
    errors: dict[str, list[str]] = {}
    try:
        args = ResponseQuery().load(raw)
    except ma.ValidationError as exc:
        errors, args = field_errors(exc), {}
    stmt = order_by(queries.responses_query(args), None, {}, InstrumentResponse.id.desc())
    page = paginate(db.session, stmt, {**args, "per_page": 25}, InstrumentResponse.id)
    ids = {r.participant_id for r in page["items"]}
    people = (
        {p.id: p for p in db.session.scalars(select(Participant).where(Participant.id.in_(ids)))}
        if ids
        else {}
    )
    return render_template(
        "questionnaires/index.html",
        page=page,
        people=people,
        args={k: v for k, v in raw.items() if k != "page"},
        errors=errors,
        instruments=[v.name for v in queries.latest_versions(db.session)],
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
@requires("responses.write")
def create():
    participant_id = request.values.get("participant_id", "")
    if not participant_id.isdigit():
        return redirect(url_for("participant_pages.index"))
    participant = get_participant(db.session, int(participant_id))
    name = request.values.get("instrument", "")
    event = request.values.get("event") or None
    if not name:
        choices = [
            v
            for v in queries.latest_versions(db.session)
            if participant.category in v.parsed.respondents
        ]
        return render_template(
            "questionnaires/choose.html", participant=participant, choices=choices
        )
    version = queries.get_instrument_version(db.session, name)
    context = form_context(version, participant, event)
    if request.method == "GET":
        values = {
            **initial_values(version.parsed, datetime.now()),
            **form_values_of(record_answers(version.parsed, participant)),
            "collected_on": context["site_day"].isoformat(),
        }
        return render_template("questionnaires/form.html", values=values, errors={}, **context)
    data = {
        "participant_id": participant.id,
        "instrument": version.name,
        "instrument_version": version.version,
        "event": event,
        "status": "complete" if request.form.get("complete") else "incomplete",
        "collected_on": request.form.get("collected_on") or None,
        "answers": posted_answers(version.parsed, request.form),
    }
    data = {k: v for k, v in data.items() if v is not None or k == "event"}
    try:
        response = submit(
            ResponseCreate(), data, lambda loaded: operations.create_response(db.session, loaded)
        )
    except FormErrors as failed:
        db.session.rollback()
        values = {
            **typed_values(version.parsed, request.form),
            "collected_on": data.get("collected_on"),
        }
        return render_template(
            "questionnaires/form.html", values=values, errors=answer_errors(failed), **context
        ), 422
    flash(saved_message(response))
    return redirect(url_for(".show", response_id=response.id))


def saved_message(response: InstrumentResponse) -> str:
    if response.status == "complete":
        return gettext("The questionnaire was saved as complete.")
    return gettext("The questionnaire was saved; it is not complete yet.")


@bp.route("/<int:response_id>/edit", methods=["GET", "POST"])
@login_required
@requires("responses.write")
def edit(response_id: int):
    response = queries.get_response(db.session, response_id)
    # A signed form answers 423 with who signed it, before any input is looked at.
    refuse_if_locked(db.session, [response])
    participant = get_participant(db.session, response.participant_id)
    context = form_context(response.instrument_version, participant, response.event)
    context["response"] = response
    if request.method == "GET":
        values = form_values_of(queries.answers_json(response))
        values["collected_on"] = response.collected_on.isoformat()
        values["version"] = response.version_id
        return render_template("questionnaires/form.html", values=values, errors={}, **context)
    data: dict[str, Any] = {
        "answers": posted_answers(response.instrument_version.parsed, request.form),
        "status": "complete" if request.form.get("complete") else "incomplete",
        "collected_on": request.form.get("collected_on") or None,
    }
    reason = request.form.get("reason", "").strip()
    if reason:
        data["reason"] = reason
    data = {k: v for k, v in data.items() if v is not None}
    version = request.form.get("version", "")

    def run(loaded: dict) -> InstrumentResponse:
        with audit_context(reason=loaded.get("reason")):
            return operations.update_response(
                db.session, response, loaded, int(version) if version.isdigit() else -1
            )

    try:
        submit(ResponseUpdate(), data, run)
    except FormErrors as failed:
        db.session.rollback()
        errors = answer_errors(failed)
        response = queries.get_response(db.session, response_id)
        context["response"] = response
        values = {
            **typed_values(response.instrument_version.parsed, request.form),
            "collected_on": data.get("collected_on"),
            "version": version,
            "reason": reason,
        }
        return render_template(
            "questionnaires/form.html", values=values, errors=errors, **context
        ), 422
    flash(saved_message(response))
    return redirect(url_for(".show", response_id=response.id))


@bp.route("/<int:response_id>")
@login_required
@requires("responses.read")
def show(response_id: int):
    response = queries.get_response(db.session, response_id)
    participant = get_participant(db.session, response.participant_id)
    context = form_context(response.instrument_version, participant, response.event)
    answers = queries.answers_json(response)
    scores = {a.field: a.value_number for a in response.answers if a.computed}
    score_labels = queries.labels_for(response.instrument_version, language())["scores"]
    return render_template(
        "questionnaires/show.html",
        response=response,
        answers=answers,
        scores=[(score_labels.get(n) or n, v) for n, v in scores.items()],
        **context,
    )


@bp.route("/<int:response_id>/history")
@login_required
@requires("history.read")
def history(response_id: int):
    """Who entered and changed the questionnaire, answer by answer, with the questions'
    texts and the answers' labels in the user's language."""
    from trialdm.audit.views import plain_value, render_history

    response = queries.get_response(db.session, response_id)
    participant = get_participant(db.session, response.participant_id)
    context = form_context(response.instrument_version, participant, response.event)
    labels: dict[str, Any] = {
        **FIELD_LABELS,
        "participant_id": _l("Participant"),
        "instrument_name": _l("Questionnaire"),
        "collected_on": _l("Date collected"),
    }
    formatters: dict[str, Any] = {
        "participant_id": lambda _value: participant.study_id,
        "instrument_name": lambda _value: context["title"],
    }
    for field in context["fields"]:
        labels[field["name"]] = field["label"]
        if field["choices"]:
            formatters[field["name"]] = choice_texts(dict(field["choices"]), plain_value)
    return render_history(
        "responses",
        response.id,
        title=gettext(
            "History of %(title)s for %(study_id)s",
            title=context["title"],
            study_id=participant.study_id,
        ),
        back=url_for(".show", response_id=response.id),
        labels=labels,
        formatters=formatters,
    )


def choice_texts(choices: dict[str, Any], fallback):
    """Stored choice values shown by their labels (a list for multiple choice)."""

    def show(value: Any) -> str:
        if isinstance(value, list):
            return ", ".join(show(v) for v in value) or "—"
        text = choices.get(form_text(value))
        return str(text) if text is not None else fallback(value)

    return show
