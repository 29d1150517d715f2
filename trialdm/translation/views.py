"""Pages: the translation work of your sites, and an approved transcript with its
line numbers. The same queries as the API; the site filter does the scoping."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required
from sqlalchemy import select

from trialdm.auth.permissions import requires
from trialdm.extensions import db
from trialdm.translation import queries
from trialdm.translation.exports import is_rtl
from trialdm.translation.models import Transcript, Translation

bp = Blueprint(
    "translation_pages", __name__, url_prefix="/translation", template_folder="templates"
)


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
        "translation/work.html", translations=translations, transcripts=transcripts
    )


@bp.route("/transcripts/<int:transcript_id>")
@login_required
@requires("translation.read")
def transcript(transcript_id: int):
    record = queries.get_transcript(db.session, transcript_id)
    lines = queries.transcript_lines(db.session, record) if record.state == "approved" else []
    return render_template(
        "translation/transcript.html", transcript=record, lines=lines, is_rtl=is_rtl
    )
