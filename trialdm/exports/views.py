"""The data-export pages beside the summary workbooks: choose scope, format,
datasets, labels and identifiers, start a job, watch its progress bar (static JS
polls the job API), download the zip (the API's audited download). The same
schema and operation (``ExportCreate``, ``CreateExportJob``) as ``api.py``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from flask_login import login_required

from trialdm.auth.permissions import current_principal, requires
from trialdm.core.pagination import order_by, paginate
from trialdm.exports import queries
from trialdm.exports.archive import dataset_names
from trialdm.exports.models import ExportJob
from trialdm.exports.operations import CreateExportJob
from trialdm.exports.schemas import ExportCreate
from trialdm.extensions import db
from trialdm.web.forms import FormErrors, form_values, submit
from trialdm.web.sites import job_scope_choices

bp = Blueprint("export_pages", __name__, url_prefix="/exports/data")

FORMAT_TITLES = {
    "csv": lazy_gettext("CSV with codebook"),
    "spss": lazy_gettext("SPSS (.sav)"),
    "stata": lazy_gettext("Stata (.dta)"),
    "r": lazy_gettext("R (CSV and a script)"),
    "odm": lazy_gettext("CDISC ODM 1.3.2 XML"),
    "audit": lazy_gettext("Audit trail (CSV)"),
}


def scope_choices() -> list[tuple[str, str]]:
    return job_scope_choices("exports.build", gettext("All sites"))


def render_index(values: dict[str, Any], errors: dict[str, list[str]], status: int = 200):
    page = request.args.get("page", "1")
    stmt = order_by(queries.jobs_query({}), "-id", queries.SORTABLE, ExportJob.id)
    jobs = paginate(
        db.session, stmt, {"page": int(page) if page.isdigit() else 1, "per_page": 20}, ExportJob.id
    )
    return render_template(
        "exports/data.html",
        scopes=scope_choices(),
        formats=list(FORMAT_TITLES.items()),
        datasets=dataset_names(db.session),
        values=values,
        errors=errors,
        jobs=jobs,
        can_build=current_principal().has("exports.build"),
    ), status


@bp.route("")
@login_required
@requires("exports.read")
def index():
    defaults = {"scope": None, "format": "csv", "datasets": [], "labels": "raw"}
    return render_index({**defaults, "identifiers": "include"}, {})


@bp.route("", methods=["POST"])
@login_required
@requires("exports.build")
def create():
    values = form_values(
        request.form, ("scope", "format", "datasets", "labels", "identifiers"), lists=("datasets",)
    )
    data = {key: value for key, value in values.items() if value not in (None, [])}
    principal = current_principal()

    def start(loaded: dict[str, Any]) -> ExportJob:
        return CreateExportJob(
            loaded["scope"],
            loaded["format"],
            loaded.get("datasets"),
            loaded["labels"],
            loaded["identifiers"],
            principal.user_id,
            principal.email,
        ).run(db.session)

    try:
        job = submit(ExportCreate(), data, start)
    except FormErrors as failed:
        db.session.rollback()
        return render_index(values, failed.errors, 422)
    flash(gettext("The export is being prepared."))
    return redirect(url_for(".show", job_id=job.id))


@bp.route("/<int:job_id>")
@login_required
@requires("exports.read")
def show(job_id: int):
    job = queries.get_job(db.session, job_id)
    return render_template("exports/data_job.html", job=job, formats=FORMAT_TITLES)
