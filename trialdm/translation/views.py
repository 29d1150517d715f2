"""Translation pages: the queue of each translator and reviewer, the side-by-side
segment editor (source left, translation right; right-to-left languages written so),
step actions, transcripts with stable line numbers and the pseudonymisation review.
The same schemas, queries and operations as ``api.py``; the site filter does the
scoping."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import login_required
from sqlalchemy import select

from trialdm.auth.permissions import current_principal, requires
from trialdm.core.audit import record_event
from trialdm.extensions import db
from trialdm.translation import operations, queries
from trialdm.translation.exports import is_rtl
from trialdm.translation.models import Transcript, Translation, TranslationStep
from trialdm.translation.operations import BACK_STEPS, TEXT_STEPS
from trialdm.translation.schemas import CommentCreate, ConfirmIn, SegmentWrite, StepAction
from trialdm.web.forms import FORM_LEVEL, FormErrors, submit
from trialdm.web.i18n import RTL_LANGUAGES

bp = Blueprint(
    "translation_pages", __name__, url_prefix="/translation", template_folder="templates"
)


def language_direction(language: str | None) -> str:
    base = (language or "").split("-")[0].lower()
    return "rtl" if base in RTL_LANGUAGES else "ltr"


def my_queue(translations: list[Translation]) -> list[tuple[Translation, TranslationStep, str]]:
    """Steps waiting for me: mine to start, continue or redo, and (reviewers) submitted
    steps of others to accept or return."""
    principal = current_principal()
    queue = []
    for translation in translations:
        step = translation.current_step
        if step is None or translation.state != "in_progress":
            continue
        if step.assignee_id == principal.user_id and step.state in (
            "pending",
            "in_progress",
            "returned",
        ):
            queue.append((translation, step, "yours"))
        elif (
            step.state == "submitted"
            and step.assignee_id != principal.user_id
            and principal.has("translation.review", translation.site_code)
        ):
            queue.append((translation, step, "review"))
    return queue


@bp.route("/")
@login_required
@requires("translation.read")
def work():
    translations = db.session.scalars(
        select(Translation)
        .where(Translation.state != "superseded")
        .order_by(Translation.site_code, Translation.id)
    ).all()
    transcripts = db.session.scalars(
        select(Transcript).order_by(Transcript.site_code, Transcript.id)
    ).all()
    return render_template(
        "translation/work.html",
        translations=translations,
        transcripts=transcripts,
        queue=my_queue(list(translations)),
    )


def render_editor(translation: Translation, errors: dict | None = None, values=None, status=200):
    principal = current_principal()
    step = next((s for s in translation.steps if s.state == "in_progress"), None)
    writes = None
    if step is not None and step.assignee_id == principal.user_id:
        writes = "text" if step.kind in TEXT_STEPS else "back" if step.kind in BACK_STEPS else None
    sources = {s.key: s.text for s in translation.version.segments}
    return render_template(
        "translation/editor.html",
        translation=translation,
        sources=sources,
        step=step,
        current=translation.current_step,
        writes=writes,
        direction=language_direction(translation.language),
        errors=errors or {},
        values=values or {},
        is_rtl=is_rtl,
    ), status


@bp.route("/translations/<int:translation_id>")
@login_required
@requires("translation.read")
def editor(translation_id: int):
    return render_editor(queries.get_translation(db.session, translation_id))


@bp.route("/translations/<int:translation_id>/segments", methods=["POST"])
@login_required
@requires("translation.write")
def save_segments(translation_id: int):
    """Save every changed segment of the editor in one transaction (all or nothing)."""
    translation = queries.get_translation(db.session, translation_id)
    principal = current_principal()
    field = "back_translation" if request.form.get("writes") == "back" else "text"
    errors: dict[str, list[str]] = {}
    values: dict[str, str] = {}
    changed = 0
    for segment in list(translation.segments):
        posted = request.form.get(f"seg.{segment.key}")
        if posted is None:
            continue
        values[segment.key] = posted
        # the version the editor showed: a segment saved by someone else since is refused
        shown = request.form.get(f"ver.{segment.key}", "")
        values[f"ver.{segment.key}"] = shown
        current = segment.back_translation if field == "back_translation" else segment.text
        if posted.strip() == (current or "").strip():
            continue
        try:
            submit(
                SegmentWrite(),
                {field: posted.strip()},
                lambda loaded, key=segment.key, shown=shown: operations.write_segment(
                    db.session,
                    translation,
                    key,
                    loaded,
                    principal,
                    int(shown) if shown.isdigit() else None,
                ),
            )
            changed += 1
        except FormErrors as failed:
            for messages in failed.errors.values():
                errors.setdefault(segment.key, []).extend(messages)
    if errors:
        db.session.rollback()
        translation = queries.get_translation(db.session, translation_id)
        return render_editor(translation, errors, values, 422)
    flash(gettext("%(n)s segment(s) saved.", n=changed))
    return redirect(url_for(".editor", translation_id=translation.id))


@bp.route("/translations/<int:translation_id>/steps/<int:step_id>", methods=["POST"])
@login_required
@requires("translation.work")
def step_action(translation_id: int, step_id: int):
    translation = queries.get_translation(db.session, translation_id)
    step = operations.get_step(translation, step_id)
    data = {
        "action": request.form.get("action", ""),
        "comment": request.form.get("comment") or None,
    }
    try:
        submit(
            StepAction(),
            data,
            lambda loaded: operations.transition_step(
                db.session,
                translation,
                step,
                loaded["action"],
                current_principal(),
                loaded.get("comment"),
            ),
        )
    except FormErrors as failed:
        db.session.rollback()
        errors = {FORM_LEVEL: [m for ms in failed.errors.values() for m in ms]}
        translation = queries.get_translation(db.session, translation_id)
        return render_editor(translation, errors, {"comment": data["comment"]}, 422)
    flash(gettext("Done: %(action)s.", action=data["action"]))
    return redirect(url_for(".editor", translation_id=translation_id))


@bp.route("/translations/<int:translation_id>/comments", methods=["POST"])
@login_required
@requires("translation.work")
def comment(translation_id: int):
    translation = queries.get_translation(db.session, translation_id)
    data = {
        "body": request.form.get("body", ""),
        "segment_key": request.form.get("segment_key") or None,
    }
    try:
        submit(
            CommentCreate(),
            data,
            lambda loaded: operations.add_comment(
                db.session, translation, loaded, current_principal()
            ),
        )
    except FormErrors as failed:
        db.session.rollback()
        translation = queries.get_translation(db.session, translation_id)
        return render_editor(translation, {"body": failed.errors.get("body", [])}, {}, 422)
    return redirect(url_for(".editor", translation_id=translation_id) + "#comments")


@bp.route("/transcripts/<int:transcript_id>")
@login_required
@requires("translation.read")
def transcript(transcript_id: int):
    record = queries.get_transcript(db.session, transcript_id)
    lines = queries.transcript_lines(db.session, record) if record.state == "approved" else []
    return render_template(
        "translation/transcript.html",
        transcript=record,
        lines=lines,
        is_rtl=is_rtl,
        direction=language_direction(record.language),
    )


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
        except Exception as exc:
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
    from trialdm.core.errors import DomainError
    from trialdm.web.forms import field_errors

    if not isinstance(exc, DomainError):
        raise exc
    db.session.rollback()
    record = queries.get_transcript(db.session, transcript_id)
    return render_review(record, field_errors(exc), values, 422)
