"""``POST /api/``: REDCap's API, form-encoded with ``token=`` in the body.

Answers and errors are written as REDCap writes them: JSON (``{"error": "..."}``),
CSV (``ERROR: ...``) or XML for errors, in the ``returnFormat`` (else ``format``)
the client asked for, with REDCap's status codes: 400 for a bad request, 401 for a
missing or unknown token, 403 for a right the token's user does not hold.

Who asks is the token's user, with the same roles, permissions and site scope as
on ``/api/v1``: ``responses.read`` to export, ``responses.write`` to import.
Changes are audited with source ``redcap-api``; a change to a completed form needs
a reason, sent as ``reason`` in the body or an ``X-Reason`` header.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import replace
from typing import Any
from xml.sax.saxutils import escape

from flask import Blueprint, Flask, Response, current_app, g, request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from trialdm.auth.operations import principal_for_token
from trialdm.auth.permissions import PERMISSION_ATTR, authorize
from trialdm.core.audit import audit_context, current_audit_context, record_event, set_audit_context
from trialdm.core.errors import DomainError
from trialdm.core.http import accept_form_bodies
from trialdm.core.scoping import current_scope
from trialdm.extensions import csrf, db, limiter
from trialdm.redcap import imports, operations, queries, schemas
from trialdm.redcap.project import RECORD_ID_FIELD, build_project

PATH = "/api/"
AUDIT_SOURCE = "redcap-api"
TOKEN_PATTERN = re.compile(r"^[0-9A-Fa-f]{32}$")
READ_PERMISSION = "responses.read"
WRITE_PERMISSION = "responses.write"
EXPORT_CONTENTS = (
    "version",
    "project",
    "metadata",
    "instrument",
    "exportFieldNames",
    "formEventMapping",
    "event",
    "arm",
    "dag",
    "record",
)
NO_PERMISSION = "You do not have permissions to use the API"

bp = Blueprint("redcap", __name__)


class RedcapError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _token_key() -> str:
    token = str(request.form.get("token") or "")
    return "redcap-token:" + hashlib.sha256(token.encode()).hexdigest()


def _rate_limit() -> str:
    return current_app.config["REDCAP_API_RATE_LIMIT"]


def _failed_token_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _token_refused(response: Response) -> bool:
    return response.status_code == 401


@bp.route(PATH, methods=["POST"])
@limiter.limit(_rate_limit, key_func=_token_key)
@limiter.limit(_failed_token_limit, deduct_when=_token_refused)
def redcap_api() -> Response:
    """One REDCap API call; ``content`` (and ``data`` for an import) says which."""
    form = request.form
    fmt = schemas.return_format(form)
    try:
        _identify(str(form.get("token") or ""))
        return _dispatch(form, fmt)
    except schemas.ParameterError as exc:
        return error_response(400, str(exc), fmt)
    except RedcapError as exc:
        return error_response(exc.status, exc.message, fmt)
    except DomainError as exc:
        return error_response(_status_of(exc), exc.detail, fmt)


# The token is checked in the view (it travels in the body); each content then
# authorises READ_PERMISSION or WRITE_PERMISSION, which narrows the site scope.
setattr(redcap_api, PERMISSION_ATTR, READ_PERMISSION)


def _status_of(exc: DomainError) -> int:
    if exc.status in (401, 403, 423):
        return exc.status
    return 400


def _identify(token: str) -> None:
    if not token:
        raise RedcapError(401, 'No API token was given (the parameter "token").')
    if not TOKEN_PATTERN.match(token):
        raise RedcapError(401, "The API token is not valid: a REDCap token has 32 hex characters.")
    principal = principal_for_token(db.session, token.upper())
    if principal is None:
        raise RedcapError(401, "The API token is not valid or was revoked.")
    g.principal = principal
    set_audit_context(
        replace(
            current_audit_context(),
            user_id=principal.user_id,
            user_email=principal.email,
            source=AUDIT_SOURCE,
        )
    )


def _authorize(permission: str, refused: str) -> None:
    try:
        authorize(permission)
    except DomainError:
        raise RedcapError(403, refused) from None


def _dispatch(form: Any, fmt: str) -> Response:
    content = str(form.get("content") or "")
    action = str(form.get("action") or "export").lower()
    if content not in EXPORT_CONTENTS:
        raise RedcapError(400, 'The value of the parameter "content" is not valid')
    if content == "record" and action == "delete":
        _authorize(WRITE_PERMISSION, NO_PERMISSION)
        raise RedcapError(
            403,
            "Records are not deleted through this API: a response is deleted with its "
            "reason on /api/v1/responses, a participant is withdrawn, never erased.",
        )
    if content == "record" and ("data" in form or action == "import"):
        _authorize(WRITE_PERMISSION, "You do not have API Import/Update privileges")
        return _import_records(form, fmt)
    _authorize(READ_PERMISSION, NO_PERMISSION)
    if action != "export" or "data" in form:
        raise RedcapError(
            403,
            f"Only records are imported through this API, not {content}: instruments are "
            "files (trialdm instruments import-redcap, then trialdm instruments sync), the "
            "schedule and the sites are trial settings.",
        )
    if content == "version":
        return Response(queries.REDCAP_VERSION, mimetype="text/plain")
    if content == "dag":
        return render(queries.data_access_groups(db.session), form)
    if content == "arm":
        return render(queries.arms(schemas.list_param(form, "arms")), form)
    project = build_project(db.session, current_app.config)
    if content == "project":
        return render(queries.project_info(project, current_app.config), form)
    if content == "metadata":
        rows = queries.metadata(
            project, schemas.list_param(form, "fields"), schemas.list_param(form, "forms")
        )
        return render(rows, form)
    if content == "instrument":
        return render(queries.instruments(project), form)
    if content == "exportFieldNames":
        return render(queries.export_field_names(project, form.get("field") or None), form)
    if content == "formEventMapping":
        return render(queries.form_event_mapping(project, schemas.list_param(form, "arms")), form)
    if content == "event":
        window = current_app.config["SCHEDULE_WINDOW_DAYS"]
        return render(queries.events(project, schemas.list_param(form, "arms"), window), form)
    return _export_records(project, form)


def _export_records(project: Any, form: Any) -> Response:
    params = schemas.record_export(form)
    table = queries.record_table(db.session, project, params, current_scope().every_site)
    record_event(
        db.session,
        "export",
        "redcap_records",
        details={
            "format": params.format,
            "rows": len(table.rows),
            "columns": len(table.columns),
            "records": len({row[RECORD_ID_FIELD] for row in table.rows}),
        },
    )
    if params.format == "json":
        return _json(table.rows)
    headers = [c.header_label if params.label_headers else c.name for c in table.columns]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=params.csv_delimiter, lineterminator="\n")
    writer.writerow(headers)
    for row in table.rows:
        writer.writerow([row[c.name] for c in table.columns])
    return Response(out.getvalue(), mimetype="text/csv")


def _import_records(form: Any, fmt: str) -> Response:
    params = schemas.record_import(form)
    project = build_project(db.session, current_app.config)
    rows = imports.read_rows(params)
    reason = (form.get("reason") or request.headers.get("X-Reason") or "").strip() or None
    try:
        with audit_context(reason=reason):
            imported = operations.import_records(db.session, project, rows, params)
    except imports.ImportRefused as exc:
        return error_response(exc.status, "\n".join(p.line() for p in exc.problems), fmt)
    if params.return_content == "nothing":
        return Response("", mimetype="text/plain")
    if params.return_content == "ids":
        if fmt == "csv":
            return Response("id\n" + "".join(f"{i}\n" for i in imported), mimetype="text/csv")
        return _json(imported)
    if fmt == "csv":
        return Response(str(len(imported)), mimetype="text/csv")
    return _json({"count": len(imported)})


# ---------------------------------------------------------------- rendering


def _json(data: Any, status: int = 200) -> Response:
    # json.dumps keeps the column order (Flask's JSON provider would sort the keys).
    return Response(
        json.dumps(data, ensure_ascii=False), status=status, mimetype="application/json"
    )


def render(data: list[dict[str, Any]] | dict[str, Any], form: Any) -> Response:
    """An export in ``format``: JSON (the default) or CSV with a header row."""
    fmt = schemas.choice(form, "format", schemas.DATA_FORMATS, "json")
    if fmt == "json":
        return _json(data)
    rows = [data] if isinstance(data, dict) else data
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(
            out,
            fieldnames=list(rows[0]),
            delimiter=schemas.csv_delimiter(form),
            lineterminator="\n",
        )
        writer.writeheader()
        writer.writerows(rows)
    return Response(out.getvalue(), mimetype="text/csv")


def error_response(status: int, message: str, fmt: str) -> Response:
    if fmt == "csv":
        return Response(f"ERROR: {message}", status=status, mimetype="text/csv")
    if fmt == "xml":
        body = (
            '<?xml version="1.0" encoding="UTF-8" ?>\n'
            f"<hash>\n  <error>{escape(message)}</error>\n</hash>"
        )
        return Response(body, status=status, mimetype="text/xml")
    return _json({"error": message}, status)


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response:
    """Errors raised before the view (body too large, rate limit) in REDCap's form."""
    message = exc.description or exc.name
    return error_response(exc.code or 400, message, _requested_format())


@bp.errorhandler(DomainError)
def domain_error(exc: DomainError) -> Response:
    return error_response(_status_of(exc), exc.detail, _requested_format())


@bp.errorhandler(IntegrityError)
@bp.errorhandler(StaleDataError)
def concurrent_change(exc: Exception) -> Response:
    """Another request saved the same form at the same moment (two imports at once)."""
    db.session.rollback()
    message = "The data were changed by another request at the same time; nothing was saved. Retry."
    return error_response(400, message, _requested_format())


def _requested_format() -> str:
    try:
        return schemas.return_format(request.form)
    except HTTPException:  # a body too large to read
        return "json"


def register_redcap_api(app: Flask) -> None:
    """Mount ``POST /api/``: form bodies, no CSRF token (the API token is in the body
    and never in a cookie, so another site's page cannot send it)."""
    accept_form_bodies(PATH)
    csrf.exempt(bp)
    app.register_blueprint(bp)
