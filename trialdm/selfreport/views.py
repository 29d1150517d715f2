"""The page a participant opens from a self-report link (no login, nothing but the
questionnaire), and the staff page that makes a link to hand over or print."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request
from flask_babel import force_locale
from flask_login import login_required

from trialdm.auth.permissions import public, requires
from trialdm.core.errors import DomainError
from trialdm.extensions import db, limiter
from trialdm.instruments.models import InstrumentResponse
from trialdm.instruments.queries import get_instrument_version
from trialdm.participants.models import Participant
from trialdm.participants.queries import get_participant
from trialdm.selfreport import operations, queries
from trialdm.selfreport.models import SelfReportLink
from trialdm.web.forms import FormErrors, field_errors
from trialdm.web.i18n import LANGUAGES, text_direction

bp = Blueprint("self_report", __name__)

# Page language of the link page: the questionnaire's, where the pages have a catalog.
PAGE_LANGUAGES = tuple(LANGUAGES)


def _rate_limit() -> str:
    return current_app.config["SELF_REPORT_RATE_LIMIT"]


def _closed(state: str | None, language: str, status: int | None = None) -> tuple[str, int]:
    """A link that opens nothing (unknown 404, used or expired or revoked 410), or the
    thanks after sending (200: the request's work is committed)."""
    with force_locale(language if language in PAGE_LANGUAGES else "en"):
        page = render_template("selfreport/closed.html", state=state)
    return page, status or (404 if state is None else 410)


@bp.route("/r/<token>", methods=["GET", "POST"])
@public
@limiter.limit(_rate_limit)
def answer(token: str):
    """The questionnaire of a link: saves progress, and on sending uses the link up."""
    from trialdm.instruments.views import (
        answer_errors,
        form_context,
        form_values_of,
        posted_answers,
    )

    link = operations.find_link(db.session, token)
    if link is None:
        return _closed(None, request.accept_languages.best_match(PAGE_LANGUAGES) or "en")
    state = operations.link_state(link)
    if state != "open":
        return _closed(state, link.language)
    with operations.acting_through(link):
        participant = db.session.get(Participant, link.participant_id)
        version = get_instrument_version(db.session, link.instrument_name)
        response = (
            db.session.get(InstrumentResponse, link.response_id) if link.response_id else None
        )
        if response is not None:
            version = response.instrument_version
        context = form_context(version, participant, link.event, link.language)
        values: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        status = 200
        if request.method == "POST":
            complete = bool(request.form.get("complete"))
            answers = posted_answers(version.parsed, request.form)
            try:
                try:
                    operations.save_answers(db.session, link, answers, complete)
                except DomainError as exc:
                    raise FormErrors(field_errors(exc), exc) from exc
            except FormErrors as failed:
                db.session.rollback()
                values, errors, status = form_values_of(answers), answer_errors(failed), 422
            else:
                if complete:
                    return _closed("completed", link.language, 200)
                values, saved = form_values_of(answers), True
                return _page(context, link, values, errors, saved), 200
        elif response is not None:
            from trialdm.instruments.queries import answer_values

            values = form_values_of(answer_values(response))
        else:
            from trialdm.instruments.record import record_answers

            values = form_values_of(record_answers(version.parsed, participant))
        return _page(context, link, values, errors, False), status


def _page(
    context: dict[str, Any],
    link: SelfReportLink,
    values: dict[str, Any],
    errors: dict[str, list[str]],
    saved: bool,
) -> str:
    language = link.language if link.language in PAGE_LANGUAGES else "en"
    with force_locale(language):
        return render_template(
            "selfreport/answer.html",
            values=values,
            errors=errors,
            saved=saved,
            language=link.language,
            direction=text_direction(link.language),
            **{k: v for k, v in context.items() if k != "participant"},
        )


@bp.route("/self-report/new", methods=["POST"])
@login_required
@requires("responses.write")
def create():
    """Make a link from the participant page; shows it once, with its QR code."""
    participant_id = request.form.get("participant_id", "")
    participant = get_participant(
        db.session, int(participant_id) if participant_id.isdigit() else 0
    )
    data = {
        "instrument": request.form.get("instrument", ""),
        "event": request.form.get("event", ""),
    }
    try:
        link, token = operations.create_link(db.session, participant, data)
    except DomainError as exc:
        return render_template(
            "selfreport/created.html", participant=participant, errors=field_errors(exc)
        ), exc.status
    url = queries.link_url(token)
    return render_template(
        "selfreport/created.html",
        participant=participant,
        errors={},
        link=link,
        url=url,
        qr=queries.qr_svg_data_uri(url),
    )
