"""``/api/v1/summaries``: workbook build jobs, their tables as JSON, downloads."""

from __future__ import annotations

import io

from flask import send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from trialdm.auth.permissions import current_principal, requires
from trialdm.core.audit import record_event
from trialdm.core.errors import N_, NotFound
from trialdm.core.pagination import order_by, paginate
from trialdm.extensions import db
from trialdm.summaries import queries
from trialdm.summaries.models import SummaryJob
from trialdm.summaries.operations import (
    CreateSummaryJob,
    document_name,
    download_name,
    workbook_path,
)
from trialdm.summaries.schemas import (
    SummaryCreate,
    SummaryJobOut,
    SummaryJobPage,
    SummaryJobQuery,
    SummaryTableOut,
)
from trialdm.summaries.specfiles.texts import localised_table

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

blp = Blueprint(
    "summaries",
    __name__,
    url_prefix="/api/v1/summaries",
    description="Summary-table workbooks built as background jobs",
)


@blp.route("")
class Summaries(MethodView):
    @requires("summaries.read")
    @blp.arguments(SummaryJobQuery, location="query")
    @blp.response(200, SummaryJobPage)
    def get(self, args):
        """Recent jobs you may see (newest first by default)."""
        stmt = order_by(
            queries.jobs_query(args),
            args.get("sort") or "-id",
            queries.SORTABLE,
            queries.SummaryJob.id,
        )
        return paginate(db.session, stmt, args, queries.SummaryJob.id)

    @requires("summaries.build")
    @blp.arguments(SummaryCreate)
    @blp.response(202, SummaryJobOut)
    def post(self, data):
        """Ask for a workbook: 'all' (coordinators) or one of your sites."""
        principal = current_principal()
        job = CreateSummaryJob(
            data["scope"],
            data.get("tables"),
            principal.user_id if principal else None,
            principal.email if principal else None,
        ).run(db.session)
        return job, 202, {"Location": f"/api/v1/summaries/{job.id}"}


@blp.route("/<int:job_id>")
class SummaryById(MethodView):
    @requires("summaries.read")
    @blp.response(200, SummaryJobOut)
    def get(self, job_id):
        """A job's state and progress."""
        return queries.get_job(db.session, job_id)


@blp.route("/<int:job_id>/download")
class SummaryDownload(MethodView):
    @requires("summaries.read")
    @blp.doc(responses={"200": {"description": "The workbook", "content": {XLSX: {}}}})
    def get(self, job_id):
        """The workbook (audited)."""
        job = queries.finished_job(db.session, job_id)
        path = workbook_path(job)
        if not path.exists():
            raise NotFound(N_("The workbook file is gone; ask for a new one."))
        record_event(
            db.session,
            "download",
            "summary_job",
            job.id,
            site_code=job.site_code,
            details={"scope": job.scope, "file": path.name},
            durable=True,
        )
        return send_file(path, mimetype=XLSX, as_attachment=True, download_name=download_name(job))


@blp.route("/<int:job_id>/tables/<string:name>")
class SummaryTable(MethodView):
    @requires("summaries.read")
    @blp.response(200, SummaryTableOut)
    def get(self, job_id, name):
        """One table of a finished job as JSON (the listing capped; audited: a listing
        names participants)."""
        table = queries.job_table(db.session, job_id, name)
        job = db.session.get(SummaryJob, job_id)  # in the identity map: no second query
        assert job is not None
        record_event(
            db.session,
            "read_table",
            "summary_job",
            job.id,
            site_code=job.site_code,
            details={"table": name, "scope": job.scope},
            durable=True,
        )
        return table


@blp.route("/<int:job_id>/tables/<string:name>/docx")
class SummaryTableDocument(MethodView):
    @requires("summaries.read")
    @blp.doc(
        responses={"200": {"description": "The table as a Word document", "content": {DOCX: {}}}}
    )
    def get(self, job_id, name):
        """One table of a finished job as a Word (.docx) table (audited)."""
        # python-docx (with lxml) only in a process that writes a document
        from trialdm.summaries.word import table_document

        job = queries.finished_job(db.session, job_id)
        body = queries.job_table(db.session, job_id, name)
        content = table_document(localised_table(body))
        record_event(
            db.session,
            "download",
            "summary_job",
            job.id,
            site_code=job.site_code,
            details={"scope": job.scope, "table": name, "format": "docx"},
            durable=True,
        )
        return send_file(
            io.BytesIO(content),
            mimetype=DOCX,
            as_attachment=True,
            download_name=document_name(job, name),
        )
