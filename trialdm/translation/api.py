"""``/api/v1/materials``, ``/api/v1/translations``, ``/api/v1/transcripts``: thin."""

from __future__ import annotations

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from trialdm.auth.permissions import current_principal, requires
from trialdm.core.audit import record_event
from trialdm.core.errors import N_, ValidationFailed
from trialdm.core.pagination import order_by, paginate
from trialdm.core.versions import etag_headers, if_match_required, if_match_version
from trialdm.extensions import db
from trialdm.translation import exports, operations, queries
from trialdm.translation.imports import text_of_file
from trialdm.translation.models import Material, PseudonymKeyEntry, Transcript, Translation
from trialdm.translation.schemas import (
    CheckIn,
    CheckOut,
    CommentCreate,
    CommentOut,
    ConfirmIn,
    ExportArgs,
    KeyEntryCreate,
    KeyEntryOut,
    KeyPage,
    KeyQuery,
    MaterialCreate,
    MaterialOut,
    MaterialPage,
    MaterialQuery,
    PseudonymisationOut,
    QuoteArgs,
    QuoteOut,
    SegmentWrite,
    StepAction,
    StepOut,
    StepUpdate,
    TextIn,
    TranscriptCreate,
    TranscriptOut,
    TranscriptPage,
    TranscriptQuery,
    TranslationCreate,
    TranslationOut,
    TranslationPage,
    TranslationQuery,
    VersionCreate,
    VersionOut,
)

blp = Blueprint(
    "translation",
    __name__,
    url_prefix="/api/v1",
    description="Study materials and their translations; transcripts from recording to "
    "checked English",
)

# A text body: JSON {"text": ...} or a UTF-8 .txt / .docx file upload.
TEXT_UPLOAD_BODY = {
    "content": {
        "application/json": {"schema": TextIn},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        },
    }
}


# Materials ----------------------------------------------------------------------------


@blp.route("/materials")
class Materials(MethodView):
    @requires("translation.read")
    @blp.arguments(MaterialQuery, location="query")
    @blp.response(200, MaterialPage)
    def get(self, args):
        """Study materials (trial-wide English source)."""
        stmt = order_by(
            queries.materials_query(args), args.get("sort"), queries.MATERIAL_SORTABLE, Material.id
        )
        return paginate(db.session, stmt, args, Material.id)

    @requires("materials.manage")
    @blp.arguments(MaterialCreate)
    @blp.response(201, MaterialOut)
    def post(self, data):
        """A material with its first English version as segments."""
        material = operations.create_material(db.session, data, current_principal())
        return material, 201, {"Location": f"/api/v1/materials/{material.id}"}


@blp.route("/materials/<int:material_id>")
class MaterialById(MethodView):
    @requires("translation.read")
    @blp.response(200, MaterialOut)
    def get(self, material_id):
        """A material with its versions and the current version's segments."""
        return queries.get_material(db.session, material_id)


@blp.route("/materials/<int:material_id>/versions")
class MaterialVersions(MethodView):
    @requires("materials.manage")
    @blp.arguments(VersionCreate)
    @blp.response(201, VersionOut)
    def post(self, data, material_id):
        """A new English version; every site's translation is carried over (changed
        segments flagged needs_update)."""
        material = queries.get_material(db.session, material_id)
        return operations.add_material_version(db.session, material, data, current_principal())


@blp.route("/materials/<int:material_id>/versions/<int:version_number>")
class MaterialVersionById(MethodView):
    @requires("translation.read")
    @blp.response(200, VersionOut)
    def get(self, material_id, version_number):
        """One English version with its segments."""
        return queries.get_material_version(db.session, material_id, version_number)


# Translations -------------------------------------------------------------------------


@blp.route("/translations")
class Translations(MethodView):
    @requires("translation.read")
    @blp.arguments(TranslationQuery, location="query")
    @blp.response(200, TranslationPage)
    def get(self, args):
        """Translations of your sites."""
        stmt = order_by(
            queries.translations_query(args),
            args.get("sort"),
            queries.TRANSLATION_SORTABLE,
            Translation.id,
        )
        return paginate(db.session, stmt, args, Translation.id)

    @requires("translation.assign")
    @blp.arguments(TranslationCreate)
    @blp.response(201, TranslationOut)
    def post(self, data):
        """Start translating a material version into a site's language; the steps come
        from the material's category (TRANSLATION_WORKFLOWS)."""
        material = queries.get_material(db.session, data["material_id"])
        translation = operations.start_translation(db.session, material, data, current_principal())
        return translation, 201, {"Location": f"/api/v1/translations/{translation.id}"}


@blp.route("/translations/<int:translation_id>")
class TranslationById(MethodView):
    @requires("translation.read")
    @blp.response(200, TranslationOut)
    def get(self, translation_id):
        """A translation with its steps, segments (source beside text) and comments."""
        return queries.get_translation(db.session, translation_id)


@blp.route("/translations/<int:translation_id>/steps/<int:step_id>")
class StepById(MethodView):
    @requires("translation.assign")
    @if_match_required(blp)
    @blp.arguments(StepUpdate)
    @blp.response(200, StepOut)
    def patch(self, data, translation_id, step_id):
        """Assign a step (a translator or reviewer of the site) and set its due date;
        needs If-Match with the step's version."""
        translation = queries.get_translation(db.session, translation_id)
        step = operations.get_step(translation, step_id)
        return operations.assign_step(db.session, translation, step, data, if_match_version())


@blp.route("/translations/<int:translation_id>/steps/<int:step_id>/transitions")
class StepTransitions(MethodView):
    @requires("translation.work")
    @blp.arguments(StepAction)
    @blp.response(200, StepOut)
    def post(self, data, translation_id, step_id):
        """start / submit (the assignee); complete / return (another reviewer of the
        site; returning needs a comment). Steps are done in order."""
        translation = queries.get_translation(db.session, translation_id)
        step = operations.get_step(translation, step_id)
        return operations.transition_step(
            db.session, translation, step, data["action"], current_principal(), data.get("comment")
        )


@blp.route("/translations/<int:translation_id>/segments/<segment_key>")
class SegmentByKey(MethodView):
    @requires("translation.write")
    @if_match_required(blp)
    @blp.arguments(SegmentWrite)
    @blp.response(200, TranslationOut)
    def put(self, data, translation_id, segment_key):
        """The text (or back translation) of one segment, by the step's assignee; needs
        If-Match with the segment's version (the response's ETag is its new one)."""
        translation = queries.get_translation(db.session, translation_id)
        operations.write_segment(
            db.session, translation, segment_key, data, current_principal(), if_match_version()
        )
        return translation


@blp.route("/translations/<int:translation_id>/comments")
class TranslationComments(MethodView):
    @requires("translation.work")
    @blp.arguments(CommentCreate)
    @blp.response(201, CommentOut)
    def post(self, data, translation_id):
        """A comment on the translation or on one segment."""
        translation = queries.get_translation(db.session, translation_id)
        return operations.add_comment(db.session, translation, data, current_principal())


# Transcripts --------------------------------------------------------------------------


def _uploaded_text(field: str = "text") -> str:
    """The text of a JSON body ``{"text": ...}`` or of an uploaded .txt/.docx file."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise ValidationFailed.field("file", N_("Upload a .txt or .docx file as 'file'."))
        return text_of_file(upload.filename, upload.read())
    data = TextIn().load(request.get_json(silent=True) or {}) if request.is_json else None
    if data is None:
        raise ValidationFailed.field(field, N_('Send {"text": ...} or a file.'))
    return data["text"]


def _load_text() -> str:
    import marshmallow as ma

    try:
        return _uploaded_text()
    except ma.ValidationError as exc:
        raise ValidationFailed(N_("The input has errors."), errors=exc.messages) from None


@blp.route("/transcripts")
class Transcripts(MethodView):
    @requires("translation.read")
    @blp.arguments(TranscriptQuery, location="query")
    @blp.response(200, TranscriptPage)
    def get(self, args):
        """Transcripts of your sites."""
        stmt = order_by(
            queries.transcripts_query(args),
            args.get("sort"),
            queries.TRANSCRIPT_SORTABLE,
            Transcript.id,
        )
        return paginate(db.session, stmt, args, Transcript.id)

    @requires("translation.write")
    @blp.arguments(TranscriptCreate)
    @blp.response(201, TranscriptOut)
    def post(self, data):
        """A transcript of a focus group or interview (state recorded)."""
        transcript = operations.create_transcript(db.session, data, current_principal())
        return (
            transcript,
            201,
            {**etag_headers(transcript), "Location": f"/api/v1/transcripts/{transcript.id}"},
        )


@blp.route("/transcripts/<int:transcript_id>")
class TranscriptById(MethodView):
    @requires("translation.read")
    @blp.response(200, TranscriptOut)
    def get(self, transcript_id):
        """A transcript (never its verbatim text: see .../pseudonymisation)."""
        transcript = queries.get_transcript(db.session, transcript_id)
        return transcript, 200, etag_headers(transcript)


@blp.route("/transcripts/<int:transcript_id>/verbatim")
class TranscriptVerbatim(MethodView):
    @requires("translation.write")
    @if_match_required(blp)
    @blp.response(200, TranscriptOut)
    @blp.doc(requestBody=TEXT_UPLOAD_BODY)
    def post(self, transcript_id):
        """Upload the verbatim local-language text (JSON text, or a UTF-8 .txt or .docx);
        needs If-Match with the transcript's version."""
        transcript = queries.get_transcript(db.session, transcript_id)
        text = _load_text()
        operations.upload_verbatim(
            db.session, transcript, text, current_principal(), if_match_version()
        )
        return transcript


@blp.route("/transcripts/<int:transcript_id>/pseudonymisation")
class TranscriptPseudonymisation(MethodView):
    @requires("pseudonymisation.key")
    @blp.response(200, PseudonymisationOut)
    def get(self, transcript_id):
        """The verbatim text, the draft and the report (site leads of the site)."""
        transcript = queries.get_transcript(db.session, transcript_id)
        if transcript.verbatim_text is not None:
            # The verbatim text names people: reading it is on the record.
            record_event(
                db.session,
                "view_verbatim",
                "transcripts",
                transcript.id,
                transcript.site_code,
                durable=True,
            )
        return transcript, 200, etag_headers(transcript)

    @requires("pseudonymisation.key")
    @blp.response(200, PseudonymisationOut)
    def post(self, transcript_id):
        """Apply the site's key: a draft, every replacement and the tokens that look
        like names left in it."""
        transcript = queries.get_transcript(db.session, transcript_id)
        operations.apply_pseudonymisation(db.session, transcript, current_principal())
        return transcript, 200, etag_headers(transcript)


@blp.route("/transcripts/<int:transcript_id>/pseudonymisation/confirm")
class TranscriptPseudonymisationConfirm(MethodView):
    @requires("pseudonymisation.key")
    @if_match_required(blp)
    @blp.arguments(ConfirmIn)
    @blp.response(200, TranscriptOut)
    def post(self, data, transcript_id):
        """Confirm the (corrected) draft; the verbatim text is deleted (audited). Needs
        If-Match with the transcript's version."""
        transcript = queries.get_transcript(db.session, transcript_id)
        operations.confirm_pseudonymisation(
            db.session, transcript, data, current_principal(), if_match_version()
        )
        return transcript


@blp.route("/transcripts/<int:transcript_id>/english")
class TranscriptEnglish(MethodView):
    @requires("translation.write")
    @if_match_required(blp)
    @blp.response(200, TranscriptOut)
    @blp.doc(requestBody=TEXT_UPLOAD_BODY)
    def post(self, transcript_id):
        """Upload the English translation of the pseudonymised text; needs If-Match."""
        transcript = queries.get_transcript(db.session, transcript_id)
        text = _load_text()
        operations.upload_english(
            db.session, transcript, text, current_principal(), if_match_version()
        )
        return transcript


@blp.route("/transcripts/<int:transcript_id>/checks")
class TranscriptChecks(MethodView):
    @requires("translation.review")
    @blp.arguments(CheckIn)
    @blp.response(201, CheckOut)
    def post(self, data, transcript_id):
        """Approve the English or return it with comments; two different reviewers'
        approvals make it checked."""
        transcript = queries.get_transcript(db.session, transcript_id)
        return operations.check_transcript(db.session, transcript, data, current_principal())


@blp.route("/transcripts/<int:transcript_id>/approval")
class TranscriptApproval(MethodView):
    @requires("translation.review")
    @blp.response(200, TranscriptOut)
    def post(self, transcript_id):
        """Approve the checked English: its lines are numbered for good."""
        transcript = queries.get_transcript(db.session, transcript_id)
        operations.approve_transcript(db.session, transcript, current_principal())
        return transcript, 200, etag_headers(transcript)


def _approved(transcript_id: int) -> Transcript:
    transcript = queries.get_transcript(db.session, transcript_id)
    if transcript.state != "approved":
        raise ValidationFailed.field("state", N_("Only approved transcripts have line numbers."))
    return transcript


@blp.route("/transcripts/<int:transcript_id>/quote")
class TranscriptQuote(MethodView):
    @requires("translation.read")
    @blp.arguments(QuoteArgs, location="query")
    @blp.response(200, QuoteOut)
    def get(self, args, transcript_id):
        """Lines of the approved English with their citation label ("PU 107–128")."""
        transcript = _approved(transcript_id)
        first, last = queries.parse_line_range(args["lines"])
        lines = queries.transcript_lines(db.session, transcript, first, last)
        if not lines or lines[-1].number != last:
            raise ValidationFailed.field("lines", N_("The transcript has no such lines."))
        return {
            "label": queries.quote_label(transcript.site_code, first, last),
            "lines": lines,
            "text": "\n".join(line.text for line in lines),
        }


@blp.route("/transcripts/<int:transcript_id>/export")
class TranscriptExport(MethodView):
    @requires("translation.read")
    @blp.arguments(ExportArgs, location="query")
    @blp.response(200, content_type="application/octet-stream")
    def get(self, args, transcript_id):
        """The approved English with line numbers as .txt, .docx or .xlsx (audited)."""
        transcript = _approved(transcript_id)
        content, mimetype, filename = exports.transcript_file(
            db.session, transcript, args["format"]
        )
        response = Response(content, mimetype=mimetype)
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


# Pseudonymisation key -----------------------------------------------------------------


@blp.route("/transcripts/pseudonymisation-key")
class PseudonymKey(MethodView):
    @requires("pseudonymisation.key")
    @blp.arguments(KeyQuery, location="query")
    @blp.response(200, KeyPage)
    def get(self, args):
        """Your sites' pseudonymisation keys (site leads only)."""
        stmt = queries.key_entries_query(args).order_by(PseudonymKeyEntry.id)
        return paginate(db.session, stmt, args, PseudonymKeyEntry.id)

    @requires("pseudonymisation.key")
    @blp.arguments(KeyEntryCreate)
    @blp.response(201, KeyEntryOut)
    def post(self, data):
        """A name or identifier and its study ID (participant) or role placeholder."""
        return operations.add_key_entry(db.session, data)


@blp.route("/transcripts/pseudonymisation-key/<int:entry_id>")
class PseudonymKeyEntryById(MethodView):
    @requires("pseudonymisation.key")
    @if_match_required(blp)
    @blp.response(204)
    def delete(self, entry_id):
        """Remove an entry from the key; needs If-Match with the entry's version."""
        entry = queries.get_key_entry(db.session, entry_id)
        operations.delete_key_entry(db.session, entry, if_match_version())
