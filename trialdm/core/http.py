"""The request edge: one transaction per request, problem+json errors."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from flask import Flask, Response, g, jsonify, request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from trialdm.core.audit import (
    AuditContext,
    collect_durable_events,
    reset_audit_context,
    reset_durable_events,
    rewrite_durable_events,
    set_audit_context,
)
from trialdm.core.errors import N_, PROBLEM_MIMETYPE, DomainError, problem
from trialdm.core.messages import localised_problem
from trialdm.core.scoping import NO_SITES, reset_scope, set_scope
from trialdm.core.sqlite import reset_writing, set_writing
from trialdm.core.tasks import run_eager_tasks
from trialdm.core.versions import stale_write

log = logging.getLogger(__name__)
API_PREFIX = "/api/"
BODY_METHODS = {"POST", "PUT", "PATCH"}
WRITE_METHODS = BODY_METHODS | {"DELETE"}
# Titles of the HTTP errors the framework raises, in the catalogs (werkzeug's names
# are English only); others keep werkzeug's name.
HTTP_TITLES = {
    400: N_("Bad request"),
    401: N_("Unauthorized"),
    403: N_("Forbidden"),
    404: N_("Not found"),
    405: N_("Method not allowed"),
    409: N_("Conflict"),
    412: N_("Precondition failed"),
    413: N_("Content too large"),
    415: N_("Unsupported media type"),
    422: N_("Unprocessable content"),
    428: N_("Precondition required"),
    429: N_("Too many requests"),
}
# API paths whose clients send form bodies (REDCap's API); JSON everywhere else.
FORM_BODY_PATHS: set[str] = set()


def accept_form_bodies(path: str) -> None:
    """Let ``path`` take form-encoded bodies (its view reads ``request.form``)."""
    FORM_BODY_PATHS.add(path)


def problem_response(body: dict[str, Any]) -> Response:
    response = jsonify(localised_problem(body))
    response.status_code = body["status"]
    response.mimetype = PROBLEM_MIMETYPE
    return response


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def keep_transaction() -> None:
    """Commit this request's work even though it answers with an error
    (e.g. the audit record of a failed login)."""
    g.keep_transaction = True


def register_request_edge(app: Flask, db) -> None:
    def render_domain_error(exc: DomainError) -> Response:
        """The error as problem+json in the API, as a page for people."""
        if is_api_request():
            return problem_response(exc.to_problem())
        render_page = app.extensions.get("trialdm.page_error")
        if render_page is not None:  # the web package draws it as a page
            response = app.make_response(render_page(exc.status, exc.title, exc.detail))
            response.status_code = exc.status
            return response
        return app.make_response((exc.detail, exc.status))

    @app.before_request
    def start_request() -> Response | None:
        # Context variables outlive requests in a worker thread: start from nothing
        # and restore what was there when the request ends.
        g.scope_token = set_scope(NO_SITES)
        g.writing_token = set_writing(request.method in WRITE_METHODS)
        g.request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex
        g.durable_token = collect_durable_events()
        g.audit_token = set_audit_context(
            AuditContext(source="api" if is_api_request() else "page", request_id=g.request_id)
        )
        if (
            is_api_request()
            and request.method in BODY_METHODS
            and request.content_length
            and request.path not in FORM_BODY_PATHS
            and not (
                request.mimetype == "application/json" or request.mimetype == "multipart/form-data"
            )
        ):
            return problem_response(
                problem(
                    415,
                    N_("Unsupported media type"),
                    N_(
                        "Send the body as application/json "
                        "(or multipart/form-data for file uploads)."
                    ),
                )
            )
        return None

    @app.after_request
    def finish_transaction(response: Response) -> Response:
        if response.status_code >= 400 and not g.get("keep_transaction"):
            db.session.rollback()
            if rewrite_durable_events(db.session):
                db.session.commit()
            return response
        try:
            db.session.commit()
        except StaleDataError:
            # The version column stopped a write that lost a race after passing
            # its If-Match check: the same 412 as a stale If-Match.
            db.session.rollback()
            return render_domain_error(stale_write())
        except IntegrityError as exc:
            db.session.rollback()
            log.info("integrity error at commit: %s", exc.orig)
            return problem_response(
                problem(409, N_("Conflict"), N_("The change conflicts with existing data."))
            )
        run_eager_tasks()
        return response

    @app.teardown_request
    def end_request(exc: BaseException | None) -> None:
        if exc is not None:
            db.session.rollback()
            try:
                if rewrite_durable_events(db.session):
                    db.session.commit()
            except Exception:  # the request failed already; keep its own error
                db.session.rollback()
                log.exception("durable audit events could not be written")
        if "durable_token" in g:
            reset_durable_events(g.pop("durable_token"))
        if "scope_token" in g:
            reset_scope(g.pop("scope_token"))
        if "audit_token" in g:
            reset_audit_context(g.pop("audit_token"))
        if "writing_token" in g:
            reset_writing(g.pop("writing_token"))

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        return render_domain_error(exc)

    @app.errorhandler(StaleDataError)
    def stale(exc: StaleDataError):
        db.session.rollback()
        return render_domain_error(stale_write())

    @app.errorhandler(IntegrityError)
    def integrity(exc: IntegrityError):
        db.session.rollback()
        log.info("integrity error: %s", exc.orig)
        return problem_response(
            problem(409, N_("Conflict"), N_("The change conflicts with existing data."))
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if not is_api_request():
            render_page = app.extensions.get("trialdm.page_error")
            if render_page is not None and exc.code and exc.code >= 400:
                title = HTTP_TITLES.get(exc.code, exc.name)
                return render_page(exc.code, title, exc.description), exc.code
            return exc
        data = getattr(exc, "data", None) or {}
        errors = data.get("messages") or data.get("errors")
        if isinstance(errors, dict):
            # webargs nests by location: {"json": {...}} -> field messages
            flat: dict[str, Any] = {}
            for location, fields in errors.items():
                if isinstance(fields, dict) and location in {
                    "json",
                    "query",
                    "form",
                    "files",
                    "headers",
                    "path",
                    "view_args",
                }:
                    flat.update(fields)
                else:
                    flat[location] = fields
            errors = flat
        detail = exc.description if exc.code != 422 else N_("The input has errors.")
        if exc.code == 413:
            detail = N_("The request body is too large.")
        title = HTTP_TITLES.get(exc.code or 500, exc.name)
        return problem_response(problem(exc.code or 500, title, detail, errors or None))
