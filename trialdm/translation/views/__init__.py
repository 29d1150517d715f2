"""Translation pages: the queue of each translator and reviewer, the side-by-side
segment editor (source left, translation right; right-to-left languages written so),
step actions, transcripts with stable line numbers and the pseudonymisation review.
The same schemas, queries and operations as ``api.py``; the site filter does the
scoping."""

from __future__ import annotations

import re

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from sqlalchemy import select

from trialdm.auth.permissions import current_principal, requires
from trialdm.core.http import keep_transaction
from trialdm.extensions import db
from trialdm.translation import operations, queries
from trialdm.translation.exports import is_rtl
from trialdm.translation.models import Transcript, Translation, TranslationStep
from trialdm.translation.operations import BACK_STEPS, TEXT_STEPS
from trialdm.translation.schemas import CommentCreate, SegmentWrite, StepAction
from trialdm.web.forms import FORM_LEVEL, FormErrors, submit
from trialdm.web.i18n import text_direction

bp = Blueprint(
    "translation_pages", __name__, url_prefix="/translation", template_folder="../templates"
)


@bp.record_once
def _register(state) -> None:
    from trialdm.web.dashboard import Widget, add_widget

    add_widget(
        state.app,
        Widget(
            "translation_queue",
            "translation.read",
            "widgets/translation_queue.html",
            queue_data,
            1,
            daily_for=frozenset({"translator", "reviewer"}),
        ),
    )


def queue_data(session) -> dict | None:
    """The translator's and reviewer's daily work, first on their dashboard: steps
    waiting for them and transcripts at a step they take (upload, check, approve)."""
    principal = current_principal()
    translations = session.scalars(
        select(Translation).where(Translation.state == "in_progress").order_by(Translation.id)
    ).all()
    queue = my_queue(list(translations))
    transcripts = [
        record
        for record in session.scalars(
            select(Transcript).where(Transcript.state != "approved").order_by(Transcript.id)
        )
        if transcript_waits_for(record, principal)
    ]
    works_here = any(principal.has(p) for p in ("translation.write", "translation.review"))
    if not queue and not transcripts and not works_here:
        return None
    return {"queue": queue, "transcripts": transcripts}


def transcript_waits_for(record: Transcript, principal) -> bool:
    """Whether the transcript's next step is one this person takes."""
    site = record.site_code
    if record.state in ("recorded", "pseudonymised"):
        return principal.has("translation.write", site)
    if record.state == "transcribed":
        return principal.has("pseudonymisation.key", site)
    if record.state == "checked":
        return principal.has("translation.review", site)
    if record.state == "translated":
        return (
            principal.has("translation.review", site)
            and record.translated_by_id != principal.user_id
            and not any(
                c.reviewer_id == principal.user_id and c.round == record.check_round
                for c in record.checks
            )
        )
    return False


# What a step action did, said to the person who pressed its button.
ACTION_DONE = {
    "start": _l("The step was started."),
    "submit": _l("Your work was saved and submitted for review."),
    "complete": _l("The step was accepted."),
    "return": _l("The step was returned with your comment."),
}
_SEGMENT_KEY = re.compile(
    r"^fields\.(?P<field>[^.]+)\.(?P<part>label|help|section|choices)(\.(?P<n>.+))?$"
)


def segment_label(key: str, sources: dict[str, str]) -> str:
    """What a segment is, in words (an instrument's ``fields.si_01.choices.0`` is "Answer
    option 0 of: <the question's text>"); other materials' own keys (p1) as they are."""
    if key == "title":
        return gettext("Title")
    if key == "description":
        return gettext("Description")
    found = _SEGMENT_KEY.match(key)
    if found is None:
        if key.startswith("scores.") and key.endswith(".label"):
            return gettext("Name of a score")
        return key
    question = sources.get(f"fields.{found['field']}.label") or found["field"]
    part = found["part"]
    if part == "label":
        return gettext("Question")
    if part == "help":
        return gettext("Help text of: %(question)s", question=question)
    if part == "section":
        return gettext("Section heading before: %(question)s", question=question)
    return gettext("Answer option %(value)s of: %(question)s", value=found["n"], question=question)


def language_direction(language: str | None) -> str:
    return text_direction((language or "").split("-")[0].lower())


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
        segment_labels={s.key: segment_label(s.key, sources) for s in translation.segments},
    ), status


@bp.route("/translations/<int:translation_id>")
@login_required
@requires("translation.read")
def editor(translation_id: int):
    return render_editor(queries.get_translation(db.session, translation_id))


def save_posted_segments(translation: Translation) -> tuple[int, dict[str, list[str]], dict]:
    """Write every posted segment that differs from the stored text (``seg.<key>``).

    Returns how many changed, the errors by segment key and the posted values, so that
    a refused save shows the text as typed."""
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
    return changed, errors, values


def wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json"


@bp.route("/translations/<int:translation_id>/segments", methods=["POST"])
@login_required
@requires("translation.write")
def save_segments(translation_id: int):
    """Save every changed segment of the editor in one transaction (all or nothing).
    The editor's script sends each segment here as it changes (JSON answer)."""
    translation = queries.get_translation(db.session, translation_id)
    changed, errors, values = save_posted_segments(translation)
    if errors:
        db.session.rollback()
        if wants_json():
            from trialdm.web.forms import localised

            return jsonify(
                {"saved": 0, "errors": {k: [localised(m) for m in v] for k, v in errors.items()}}
            ), 422
        translation = queries.get_translation(db.session, translation_id)
        return render_editor(translation, errors, values, 422)
    if wants_json():
        # the new versions, which the editor sends with the segments' next save
        versions = {
            seg.key: seg.version_id
            for seg in translation.segments
            if f"seg.{seg.key}" in request.form
        }
        return jsonify({"saved": changed, "errors": {}, "versions": versions})
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
    # Every button of the editor sends the typed segments too: they are saved first,
    # in the same transaction, so no button loses text.
    _, segment_errors, values = save_posted_segments(translation)
    if segment_errors:
        db.session.rollback()
        translation = queries.get_translation(db.session, translation_id)
        return render_editor(
            translation, segment_errors, {**values, "comment": data["comment"]}, 422
        )
    savepoint = db.session.begin_nested()
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
        savepoint.commit()
    except FormErrors as failed:
        # the refused action is undone; the text saved before it is kept
        savepoint.rollback()
        keep_transaction()
        errors = {FORM_LEVEL: [m for ms in failed.errors.values() for m in ms]}
        db.session.expire_all()
        translation = queries.get_translation(db.session, translation_id)
        return render_editor(translation, errors, {**values, "comment": data["comment"]}, 422)
    flash(str(ACTION_DONE[data["action"]]))
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


# The transcript pages register their routes on ``bp``.
from trialdm.translation.views import transcripts as transcript_pages  # noqa: E402, F401
