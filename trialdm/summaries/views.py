"""Coordinator exports: choose scope and tables, start a build job, watch its progress
(static JS polls the job API), download the workbook (the API's audited download),
the list of recent workbooks, and each table previewed as HTML. The same operation
(``CreateSummaryJob``) and queries as ``api.py``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import login_required

from trialdm.auth.permissions import current_principal, requires
from trialdm.core.pagination import order_by, paginate
from trialdm.core.scoping import current_scope
from trialdm.extensions import db
from trialdm.summaries import queries
from trialdm.summaries.models import SummaryJob
from trialdm.summaries.operations import CreateSummaryJob
from trialdm.summaries.registry import specs, table_names
from trialdm.web.forms import FormErrors, field_errors
from trialdm.web.sites import job_scope_choices

bp = Blueprint("summary_pages", __name__, url_prefix="/exports")


def scope_choices() -> list[tuple[str, str]]:
    return job_scope_choices("summaries.build", gettext("All sites (cross-site workbook)"))


def recent_jobs(page_number: int) -> dict[str, Any]:
    stmt = order_by(queries.jobs_query({}), "-id", queries.SORTABLE, SummaryJob.id)
    return paginate(db.session, stmt, {"page": page_number, "per_page": 20}, SummaryJob.id)


def render_index(values: dict[str, Any], errors: dict[str, list[str]], status: int = 200):
    page_number = request.args.get("page", "1")
    return render_template(
        "exports/index.html",
        scopes=scope_choices(),
        tables=[(name, spec.title) for name, spec in specs().items()],
        values=values,
        errors=errors,
        jobs=recent_jobs(int(page_number) if page_number.isdigit() else 1),
        can_build=current_principal().has("summaries.build"),
    ), status


@bp.route("")
@login_required
@requires("summaries.read")
def index():
    return render_index({"scope": None, "tables": table_names()}, {})


@bp.route("", methods=["POST"])
@login_required
@requires("summaries.build")
def create():
    scope = request.form.get("scope", "").strip()
    tables = request.form.getlist("tables")
    values = {"scope": scope, "tables": tables}
    errors: dict[str, list[str]] = {}
    if not scope:
        errors["scope"] = [gettext("Choose all sites or one site.")]
    if not tables:
        errors["tables"] = [gettext("Choose at least one table.")]
    if errors:
        return render_index(values, errors, 422)
    principal = current_principal()
    try:
        try:
            job = CreateSummaryJob(scope, tables, principal.user_id, principal.email).run(
                db.session
            )
        except Exception as exc:
            from trialdm.core.errors import DomainError

            if isinstance(exc, DomainError):
                raise FormErrors(field_errors(exc), exc) from exc
            raise
    except FormErrors as failed:
        db.session.rollback()
        return render_index(values, failed.errors, 422)
    flash(gettext("The workbook is being built."))
    return redirect(url_for(".show", job_id=job.id))


@bp.route("/<int:job_id>")
@login_required
@requires("summaries.read")
def show(job_id: int):
    job = queries.get_job(db.session, job_id)
    return render_template(
        "exports/job.html",
        job=job,
        titles={name: spec.title for name, spec in specs().items()},
        every_site=current_scope().every_site,
    )


@bp.route("/<int:job_id>/tables/<string:name>")
@login_required
@requires("summaries.read")
def table(job_id: int, name: str):
    job = queries.get_job(db.session, job_id)
    found = queries.job_table(db.session, job_id, name)
    return render_template(
        "exports/table.html", job=job, table=found, groups=header_groups(found["columns"])
    )


def header_groups(columns: list[dict[str, Any]]) -> list[tuple[str | None, int]]:
    """Spans of the upper header row (e.g. site over its arms); empty when ungrouped."""
    if not any(column.get("group") for column in columns):
        return []
    spans: list[tuple[str | None, int]] = []
    for column in columns:
        group = column.get("group")
        if spans and spans[-1][0] == group:
            spans[-1] = (group, spans[-1][1] + 1)
        else:
            spans.append((group, 1))
    return spans
