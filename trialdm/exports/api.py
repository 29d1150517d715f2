"""``/api/v1/exports``: item-level export jobs and their audited downloads."""

from __future__ import annotations

from flask import send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from trialdm.auth.permissions import current_principal, requires
from trialdm.core.audit import record_event
from trialdm.core.errors import N_, NotFound
from trialdm.core.pagination import order_by, paginate
from trialdm.exports import queries
from trialdm.exports.archive import dataset_names
from trialdm.exports.operations import CreateExportJob, archive_path, download_name
from trialdm.exports.schemas import (
    DatasetList,
    ExportCreate,
    ExportJobOut,
    ExportJobPage,
    ExportJobQuery,
)
from trialdm.extensions import db

ZIP = "application/zip"

blp = Blueprint(
    "exports",
    __name__,
    url_prefix="/api/v1/exports",
    description="Item-level data exports (CSV, SPSS, Stata, R, CDISC ODM) built as jobs",
)


@blp.route("")
class Exports(MethodView):
    @requires("exports.read")
    @blp.arguments(ExportJobQuery, location="query")
    @blp.response(200, ExportJobPage)
    def get(self, args):
        """Recent exports you may see (newest first by default)."""
        stmt = order_by(
            queries.jobs_query(args),
            args.get("sort") or "-id",
            queries.SORTABLE,
            queries.ExportJob.id,
        )
        return paginate(db.session, stmt, args, queries.ExportJob.id)

    @requires("exports.build")
    @blp.arguments(ExportCreate)
    @blp.response(202, ExportJobOut)
    def post(self, data):
        """Ask for an export: 'all' (coordinators) or one of your sites."""
        principal = current_principal()
        job = CreateExportJob(
            data["scope"],
            data["format"],
            data.get("datasets"),
            data["labels"],
            data["identifiers"],
            principal.user_id if principal else None,
            principal.email if principal else None,
        ).run(db.session)
        return job, 202, {"Location": f"/api/v1/exports/{job.id}"}


@blp.route("/datasets")
class ExportDatasets(MethodView):
    @requires("exports.read")
    @blp.response(200, DatasetList)
    def get(self):
        """The datasets an export may hold: one per instrument, then the tables."""
        return {"datasets": dataset_names(db.session)}


@blp.route("/<int:export_id>")
class ExportById(MethodView):
    @requires("exports.read")
    @blp.response(200, ExportJobOut)
    def get(self, export_id):
        """An export's state and progress."""
        return queries.get_job(db.session, export_id)


@blp.route("/<int:export_id>/download")
class ExportDownload(MethodView):
    @requires("exports.read")
    @blp.doc(responses={"200": {"description": "The export as one zip", "content": {ZIP: {}}}})
    def get(self, export_id):
        """The zip (audited)."""
        job = queries.finished_job(db.session, export_id)
        path = archive_path(job)
        if not path.exists():
            raise NotFound(N_("The export file is gone; ask for a new one."))
        record_event(
            db.session,
            "download",
            "export_job",
            job.id,
            site_code=job.site_code,
            details={"scope": job.scope, "format": job.format, "file": path.name},
        )
        return send_file(path, mimetype=ZIP, as_attachment=True, download_name=download_name(job))
