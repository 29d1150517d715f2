"""``/api/v1/participants``: thin: parse, call an operation, dump."""

from __future__ import annotations

from flask import current_app, jsonify
from flask.views import MethodView
from flask_smorest import Blueprint

from trialdm.auth.permissions import requires
from trialdm.core.audit import audit_context, current_audit_context
from trialdm.core.pagination import order_by, paginate
from trialdm.core.versions import etag_headers, if_match_required, if_match_version
from trialdm.extensions import db
from trialdm.participants import operations, queries
from trialdm.participants.hooks import (
    attach_derived,
    attach_derived_created,
    participant_hooks,
)
from trialdm.participants.import_jobs import create_import_job
from trialdm.participants.imports import import_participants, read_upload
from trialdm.participants.schemas import (
    DeleteArgs,
    ImportJobOut,
    ImportReport,
    ImportUpload,
    ParticipantCreate,
    ParticipantOut,
    ParticipantPage,
    ParticipantQuery,
    ParticipantUpdate,
    VocabularyOut,
)

blp = Blueprint(
    "participants",
    __name__,
    url_prefix="/api/v1/participants",
    description="Service users, peer support workers and mental health workers",
)


@blp.route("")
class Participants(MethodView):
    @requires("participants.read")
    @blp.arguments(ParticipantQuery, location="query")
    @blp.response(200, ParticipantPage)
    def get(self, args):
        """List participants of your sites (filter, sort, page)."""
        stmt = order_by(
            queries.participants_query(args),
            args.get("sort"),
            queries.SORTABLE,
            queries.Participant.id,
        )
        # A derived field's filter (fidelity) is evaluated row by row up to the page's
        # end; counting would evaluate it for every participant: such a list is not
        # counted (meta.total null).
        derived = any(args.get(name) for name in participant_hooks().filters)
        page = paginate(
            db.session, stmt, args, queries.Participant.id, ids_first=True, count=not derived
        )
        attach_derived(db.session, page["items"])
        return page

    @requires("participants.write")
    @blp.arguments(ParticipantCreate())
    @blp.response(201, ParticipantOut)
    def post(self, data):
        """Create a participant; the study ID is allocated."""
        participant = operations.create_participant(db.session, data)
        attach_derived_created(db.session, [participant])
        return (
            participant,
            201,
            {
                **etag_headers(participant),
                "Location": f"/api/v1/participants/{participant.id}",
            },
        )


@blp.route("/diagnosis-vocabulary")
class DiagnosisVocabulary(MethodView):
    @requires("participants.read")
    @blp.response(200, VocabularyOut)
    def get(self):
        """The vocabulary diagnoses are recorded in: its entries in order, groups, and
        whether "other" is allowed. Diagnoses may be sent as a code, label or synonym."""
        return queries.diagnosis_vocabulary_in_use()


@blp.route("/<int:participant_id>")
class ParticipantById(MethodView):
    @requires("participants.read")
    @blp.response(200, ParticipantOut)
    def get(self, participant_id):
        """One participant; the ETag carries its version for If-Match."""
        participant = queries.get_participant(db.session, participant_id)
        attach_derived(db.session, [participant])
        return participant, 200, etag_headers(participant)

    @requires("participants.write")
    @if_match_required(blp)
    @blp.arguments(ParticipantUpdate())
    @blp.response(200, ParticipantOut)
    def patch(self, data, participant_id):
        """Change fields; needs If-Match and a reason."""
        participant = queries.get_participant(db.session, participant_id)
        with audit_context(reason=data["reason"]):
            operations.update_participant(db.session, participant, data, if_match_version())
        attach_derived(db.session, [participant])
        return participant

    @requires("participants.delete")
    @if_match_required(blp)
    @blp.arguments(DeleteArgs, location="query")
    @blp.response(204)
    def delete(self, args, participant_id):
        """Delete (softly, kept for the audit trail; site leads); needs If-Match and a reason."""
        participant = queries.get_participant(db.session, participant_id)
        with audit_context(reason=args["reason"]):
            operations.delete_participant(db.session, participant, if_match_version())


@blp.route("/import")
class ParticipantImport(MethodView):
    @requires("participants.import")
    @blp.arguments(ImportUpload, location="files", content_type="multipart/form-data")
    @blp.response(201, ImportReport)
    @blp.alt_response(202, schema=ImportJobOut, description="Queued as a job (large files)")
    def post(self, args):
        """Import a CSV file of participants of one site: all rows or none.

        Columns are the fields of a participant (without ``site``); ``diagnoses``
        holds codes, labels or synonyms of the diagnosis vocabulary separated by ``;``
        (``other: wording`` for other). Every bad row is reported by line and field.
        Size (IMPORT_MAX_BYTES) and rows (IMPORT_MAX_ROWS) are checked first (413).
        Files of more than IMPORT_SYNC_MAX_ROWS rows are imported by a background job:
        the answer is 202 with the job, whose ``Location`` shows progress and result.
        """
        config = current_app.config
        upload = args["file"]
        raw = upload.stream.read(config["IMPORT_MAX_BYTES"] + 1)
        text, rows = read_upload(raw, config["IMPORT_MAX_BYTES"], config["IMPORT_MAX_ROWS"])
        if rows > config["IMPORT_SYNC_MAX_ROWS"]:
            actor = current_audit_context()
            job = create_import_job(
                db.session, text, rows, args["site"], actor.user_id, actor.user_email, actor.role
            )
            location = f"/api/v1/participants/imports/{job.id}"
            # A response of its own: the 201 schema above would dump the job as a report.
            queued = jsonify(ImportJobOut().dump(job))
            queued.status_code = 202
            queued.headers["Location"] = location
            return queued
        with audit_context(source="import"):
            created = import_participants(db.session, text, args["site"])
        return {"created": len(created), "study_ids": [p.study_id for p in created]}


@blp.route("/imports/<int:import_job_id>")
class ParticipantImportJobView(MethodView):
    @requires("participants.import")
    @blp.response(200, ImportJobOut)
    def get(self, import_job_id):
        """A large import's state, progress and, when refused, its problems by line."""
        return queries.get_import_job(db.session, import_job_id)
