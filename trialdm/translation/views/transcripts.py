"""Transcript pages, every step of the API in the browser: record a transcript of a
focus group or interview, upload the verbatim text (.txt, .docx or typed), the
pseudonymisation review (site leads), upload the English, the two-reviewer check
with comments, approval, quoting a line range and the .txt/.docx/.xlsx download.

The text is readable with line numbers at every stage a role may read it: the
pseudonymised and English texts are numbered as approval will number them. The
verbatim text names people and is shown only on the review page (audited)."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from sqlalchemy import select

from trialdm.auth.permissions import current_principal, requires
from trialdm.core.audit import record_event
from trialdm.core.errors import N_, DomainError, ValidationFailed
from trialdm.extensions import db
from trialdm.translation import exports, operations, queries
from trialdm.translation.imports import text_of_file
from trialdm.translation.models import Transcript
from trialdm.translation.schemas import CheckIn, ConfirmIn, QuoteArgs, TranscriptCreate
from trialdm.translation.views import bp, language_direction
from trialdm.web.forms import FORM_LEVEL, FormErrors, field_errors, submit

FIELD_LABELS = {
    "session": _l("Focus group or interview"),
    "session_id": _l("Focus group or interview"),
    "session_kind": _l("Kind"),
    "title": _l("Title"),
    "language": _l("Language"),
    "recorded_on": _l("Recorded on"),
    "file": _l("File"),
    "text": _l("Text"),
    "decision": _l("Decision"),
    "comments": _l("Comments"),
    "reviewer": _l("Reviewer"),
    "lines": _l("Lines"),
    "state": _l("State"),
    "key": _l("Key"),
    "flags_reviewed": _l("Flagged tokens"),
    "pseudonymisation": _l("Pseudonymisation"),
}
STAGES = ("recorded", "transcribed", "pseudonymised", "translated", "checked", "approved")


def numbered(text: str | None) -> list[tuple[int, str]]:
    return list(enumerate(operations.split_lines(text or ""), start=1))


def sessions_to_transcribe() -> list[Any]:
    """Focus groups and interviews of the sites where the user writes translations."""
    from trialdm.qualitative.models import QualitativeSession

    principal = current_principal()
    rows = db.session.scalars(
        select(QualitativeSession)
        .where(QualitativeSession.deleted_at.is_(None))
        .order_by(QualitativeSession.date.desc(), QualitativeSession.id.desc())
    ).all()
    return [r for r in rows if principal.has("translation.write", r.site_code)]


@bp.route("/transcripts/new", methods=["GET", "POST"])
@login_required
@requires("translation.write")
def new_transcript():
    choices = sessions_to_transcribe()
    values: dict[str, Any] = {"session": request.values.get("session", "")}
    if request.method == "GET":
        return render_template(
            "translation/transcript_new.html",
            choices=choices,
            values=values,
            errors={},
            labels=FIELD_LABELS,
        )
    values.update(
        {k: request.form.get(k, "").strip() for k in ("title", "language", "recorded_on")}
    )
    kind, _, session_id = values["session"].partition(":")
    data: dict[str, Any] = {
        "session_kind": kind or None,
        "session_id": int(session_id) if session_id.isdigit() else None,
    }
    data.update({k: values[k] for k in ("title", "language", "recorded_on") if values[k]})
    try:
        record = submit(
            TranscriptCreate(),
            data,
            lambda loaded: operations.create_transcript(db.session, loaded, current_principal()),
        )
    except FormErrors as failed:
        db.session.rollback()
        errors = failed.errors
        for name in ("session_kind", "session_id"):
            if name in errors:
                errors.setdefault("session", []).extend(errors.pop(name))
        return render_template(
            "translation/transcript_new.html",
            choices=choices,
            values=values,
            errors=errors,
            labels=FIELD_LABELS,
        ), 422
    flash(gettext("The transcript was recorded; upload its verbatim text next."))
    return redirect(url_for(".transcript", transcript_id=record.id))


def render_transcript(record: Transcript, errors=None, values=None, status=200, quote=None):
    from trialdm.auth.models import User

    lines = queries.transcript_lines(db.session, record) if record.state == "approved" else []
    reviewers = {c.reviewer_id for c in record.checks}
    emails = (
        dict(db.session.execute(select(User.id, User.email).where(User.id.in_(reviewers))).all())
        if reviewers
        else {}
    )
    principal = current_principal()
    this_round = [c for c in record.checks if c.round == record.check_round]
    return render_template(
        "translation/transcript.html",
        transcript=record,
        lines=lines,
        local_lines=numbered(record.pseudonymised_text),
        english_lines=numbered(record.english_text) if record.state != "approved" else [],
        is_rtl=exports.is_rtl,
        direction=language_direction(record.language),
        stages=STAGES,
        checks=record.checks,
        this_round=this_round,
        checked_by_me=any(c.reviewer_id == principal.user_id for c in this_round),
        emails=emails,
        errors=errors or {},
        values=values or {},
        labels=FIELD_LABELS,
        quote=quote,
    ), status


@bp.route("/transcripts/<int:transcript_id>")
@login_required
@requires("translation.read")
def transcript(transcript_id: int):
    record = queries.get_transcript(db.session, transcript_id)
    quote = None
    errors: dict[str, list[str]] = {}
    if request.args.get("lines"):
        try:
            quote = quote_of(record, request.args["lines"])
        except (DomainError, FormErrors) as exc:
            errors = exc.errors if isinstance(exc, FormErrors) else field_errors(exc)
    return render_transcript(
        record, errors, {"lines": request.args.get("lines", "")}, 422 if errors else 200, quote
    )


def quote_of(record: Transcript, raw: str) -> dict[str, Any]:
    """The lines of an approved transcript with their citation label ("PU 107–128")."""
    if record.state != "approved":
        raise ValidationFailed.field("lines", N_("Only approved transcripts have line numbers."))
    args = submit(QuoteArgs(), {"lines": raw}, lambda loaded: loaded)
    first, last = queries.parse_line_range(args["lines"])
    lines = queries.transcript_lines(db.session, record, first, last)
    if not lines or lines[-1].number != last:
        raise ValidationFailed.field("lines", N_("The transcript has no such lines."))
    return {
        "label": queries.quote_label(record.site_code, first, last),
        "text": "\n".join(line.text for line in lines),
        "lines": lines,
    }


def posted_text() -> str:
    """The uploaded file's text, else the text typed in the box."""
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        return text_of_file(upload.filename, upload.read())
    text = request.form.get("text", "")
    if not text.strip():
        raise ValidationFailed.field("text", N_("Choose a file or type the text."))
    return text


def _version() -> int:
    raw = request.form.get("version", "")
    return int(raw) if raw.isdigit() else -1


def _step(transcript_id: int, run, done: str):
    """Run one step on the transcript; its errors shown on the transcript page."""
    record = queries.get_transcript(db.session, transcript_id)
    try:
        run(record)
    except DomainError as exc:
        db.session.rollback()
        record = queries.get_transcript(db.session, transcript_id)
        values = {k: request.form.get(k, "") for k in ("text", "comments", "decision")}
        return render_transcript(record, field_errors(exc), values, 422)
    flash(done)
    return redirect(url_for(".transcript", transcript_id=transcript_id))


@bp.route("/transcripts/<int:transcript_id>/verbatim", methods=["POST"])
@login_required
@requires("translation.write")
def upload_verbatim(transcript_id: int):
    return _step(
        transcript_id,
        lambda record: operations.upload_verbatim(
            db.session, record, posted_text(), current_principal(), _version()
        ),
        gettext("The verbatim text was uploaded; a site lead reviews the pseudonymisation next."),
    )


@bp.route("/transcripts/<int:transcript_id>/english", methods=["POST"])
@login_required
@requires("translation.write")
def upload_english(transcript_id: int):
    return _step(
        transcript_id,
        lambda record: operations.upload_english(
            db.session, record, posted_text(), current_principal(), _version()
        ),
        gettext("The English translation was uploaded; two reviewers check it next."),
    )


@bp.route("/transcripts/<int:transcript_id>/checks", methods=["POST"])
@login_required
@requires("translation.review")
def check(transcript_id: int):
    data = {
        "decision": request.form.get("decision") or None,
        "comments": request.form.get("comments", "").strip() or None,
    }

    def run(record: Transcript) -> None:
        try:
            submit(
                CheckIn(),
                data,
                lambda loaded: operations.check_transcript(
                    db.session, record, loaded, current_principal()
                ),
            )
        except FormErrors as failed:
            raise ValidationFailed(errors=failed.errors) from failed

    done = (
        gettext("The translation was returned with your comments.")
        if data["decision"] == "return"
        else gettext("Your check was recorded.")
    )
    return _step(transcript_id, run, done)


@bp.route("/transcripts/<int:transcript_id>/approval", methods=["POST"])
@login_required
@requires("translation.review")
def approve(transcript_id: int):
    return _step(
        transcript_id,
        lambda record: operations.approve_transcript(db.session, record, current_principal()),
        gettext("The transcript was approved; its lines are numbered for citation."),
    )


@bp.route("/transcripts/<int:transcript_id>/download")
@login_required
@requires("translation.read")
def download(transcript_id: int):
    """The approved English as ``?format=`` txt, docx or xlsx (as the API's export)."""
    record = queries.get_transcript(db.session, transcript_id)
    fmt = request.args.get("format", "txt")
    if fmt not in exports.RENDERERS:
        return render_transcript(
            record, {"format": [gettext("Choose .txt, .docx or .xlsx.")]}, status=422
        )
    if record.state != "approved":
        return render_transcript(
            record,
            {FORM_LEVEL: [gettext("Only approved transcripts can be downloaded.")]},
            status=422,
        )
    content, mimetype, filename = exports.transcript_file(db.session, record, fmt)
    response = Response(content, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# -- pseudonymisation review (site leads) -------------------------------------------


def render_review(record: Transcript, errors=None, values=None, status=200):
    if record.verbatim_text is not None:
        # The verbatim text names people: reading it is on the record (as in the API).
        record_event(
            db.session,
            "view_verbatim",
            "transcripts",
            record.id,
            record.site_code,
            durable=True,
        )
    report: dict[str, Any] = record.pseudonymisation_report or {}
    return render_template(
        "translation/pseudonymisation.html",
        transcript=record,
        report=report,
        errors=errors or {},
        values=values or {},
        labels=FIELD_LABELS,
        direction=language_direction(record.language),
    ), status


@bp.route("/transcripts/<int:transcript_id>/pseudonymisation")
@login_required
@requires("pseudonymisation.key")
def pseudonymisation(transcript_id: int):
    return render_review(queries.get_transcript(db.session, transcript_id))


@bp.route("/transcripts/<int:transcript_id>/pseudonymisation", methods=["POST"])
@login_required
@requires("pseudonymisation.key")
def pseudonymisation_action(transcript_id: int):
    record = queries.get_transcript(db.session, transcript_id)
    principal = current_principal()
    if request.form.get("action") == "apply":
        try:
            operations.apply_pseudonymisation(db.session, record, principal)
        except DomainError as exc:
            return _review_failed(transcript_id, exc, {})
        flash(gettext("The key was applied; check the draft and confirm."))
        return redirect(url_for(".pseudonymisation", transcript_id=record.id))
    data = {
        "text": request.form.get("text"),
        "flags_reviewed": request.form.get("flags_reviewed") in ("on", "true", "1"),
    }
    version = request.form.get("version", "")
    try:
        submit(
            ConfirmIn(),
            data,
            lambda loaded: operations.confirm_pseudonymisation(
                db.session, record, loaded, principal, int(version) if version.isdigit() else -1
            ),
        )
    except FormErrors as failed:
        db.session.rollback()
        record = queries.get_transcript(db.session, transcript_id)
        return render_review(record, failed.errors, data, 422)
    flash(gettext("Pseudonymisation confirmed; the verbatim text was deleted."))
    return redirect(url_for(".transcript", transcript_id=record.id))


def _review_failed(transcript_id: int, exc: Exception, values):
    if not isinstance(exc, DomainError):
        raise exc
    db.session.rollback()
    record = queries.get_transcript(db.session, transcript_id)
    return render_review(record, field_errors(exc), values, 422)
