"""Record versions over HTTP: one mechanism for every update and delete.

Every editable record carries a version (:class:`trialdm.core.models.Versioned`).
A client reads it as the ETag of the record and sends it back in ``If-Match``:

* :func:`if_match_required` decorates each PATCH/PUT/DELETE (and each POST that
  changes a versioned record) of the API. It documents the ``If-Match`` header and
  the 412/428 problem responses, answers 428 when the header is missing and sets
  the ETag of the changed record on the response.
* :func:`check_version` compares the version the writer saw (If-Match in the API,
  the form's hidden field on the pages) with the stored one: 412 when they differ.
* A write that passes the check but loses a race is stopped by the version column
  at flush (``StaleDataError``); :func:`stale_write` is the same 412 for it.
* Bulk UPDATE/DELETE statements bypass the version column; :func:`install_version_guard`
  refuses them on versioned tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import TYPE_CHECKING, Any

import marshmallow as ma
from flask import Response, g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from trialdm.core.errors import (
    N_,
    PROBLEM_MIMETYPE,
    Message,
    PreconditionFailed,
    PreconditionRequired,
)
from trialdm.core.limits import HEADER, at_most
from trialdm.core.models import Base, Versioned
from trialdm.core.schemas import Problem

if TYPE_CHECKING:
    from flask_smorest import Blueprint  # the web's; a worker does not import it

STALE_DETAIL = "The record was changed by someone else; reload it and apply your change again."
MISSING_DETAIL = (
    "Send the version you edited in If-Match (the ETag of the record, as the GET answered it)."
)


def etag_value(version: int) -> str:
    return f'"{version}"'


def etag_headers(record: Versioned) -> dict[str, str]:
    """The ETag header of a record, for GET and create responses."""
    return {"ETag": etag_value(record.version_id)}


def parse_version(raw: str | None) -> int | None:
    """The version in an If-Match value (``"3"`` or ``W/"3"``); None when absent or
    ``*`` (which would skip the check); -1 when it is not a version of ours."""
    if raw is None or not raw.strip() or raw.strip() == "*":
        return None
    value = raw.strip()
    if value.startswith("W/"):
        value = value[2:]
    value = value.strip().strip('"')
    return int(value) if value.isdigit() else -1


def if_match_version() -> int | None:
    """The version the API client sends in If-Match, if any."""
    return parse_version(request.headers.get("If-Match"))


def stale_write() -> PreconditionFailed:
    """The error of a write whose record changed since the writer read it."""
    return PreconditionFailed(STALE_DETAIL)


def check_version(record: Versioned, expected: int | None) -> None:
    """Refuse a write unless ``expected`` is the record's current version.

    428 when no version was sent, 412 when it is not the current one. In a request,
    the record is remembered so that :func:`if_match_required` puts its new ETag on
    the response."""
    if expected is None:
        raise PreconditionRequired(MISSING_DETAIL)
    if expected != record.version_id:
        raise PreconditionFailed(
            STALE_DETAIL,
            errors={
                "If-Match": [
                    Message(N_("Current version is %(version_id)s."), version_id=record.version_id)
                ]
            },
        )
    if has_request_context():
        g.versioned_record = record


@contextmanager
def another_record() -> Iterator[None]:
    """A write of another record inside an endpoint's write (e.g. the participant
    record changed by a questionnaire's answer): its version check does not make it
    the record whose ETag the endpoint answers with."""
    kept = g.get("versioned_record") if has_request_context() else None
    try:
        yield
    finally:
        if has_request_context():
            if kept is None:
                g.pop("versioned_record", None)
            else:
                g.versioned_record = kept


class IfMatchHeader(ma.Schema):
    """Only for the OpenAPI document: the header is read by :func:`if_match_version`."""

    class Meta:
        unknown = ma.EXCLUDE

    if_match = ma.fields.String(
        validate=at_most(HEADER),
        data_key="If-Match",
        required=True,
        metadata={
            "description": "The ETag of the record as you read it (its version). "
            "A missing header answers 428, a stale one 412."
        },
    )


def if_match_required(blp: Blueprint) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate an API view that changes a versioned record (below ``@requires``, so
    that permissions are checked first). The view loads the record and passes
    :func:`if_match_version` to the operation, which calls :func:`check_version`."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def without_header(*args: Any, **kwargs: Any) -> Any:
            kwargs.pop("if_match_header", None)  # parsed for the document only
            return view(*args, **kwargs)

        parsed = blp.arguments(IfMatchHeader, location="headers", arg_name="if_match_header")(
            without_header
        )
        for status, description in (
            (412, "Precondition failed: the record changed since the version in If-Match."),
            (428, "Precondition required: send If-Match with the record's ETag."),
        ):
            parsed = blp.alt_response(
                status, schema=Problem, content_type=PROBLEM_MIMETYPE, description=description
            )(parsed)

        @wraps(parsed)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if if_match_version() is None:
                raise PreconditionRequired(MISSING_DETAIL)
            g.pop("versioned_record", None)
            result = parsed(*args, **kwargs)
            record = g.pop("versioned_record", None)
            if record is None:
                raise RuntimeError(f"{view.__qualname__} wrote without check_version()")
            if isinstance(result, Response) and result.status_code != 204:
                result.headers["ETag"] = etag_value(record.version_id)
            return result

        return checked

    return decorator


# Bulk statements ---------------------------------------------------------------------

OUTSIDE_VERSIONS = "trialdm_outside_versions"


def _versioned_tables() -> set[str]:
    return {
        mapper.local_table.name
        for mapper in Base.registry.mappers
        if issubclass(mapper.class_, Versioned) and mapper.local_table is not None
    }


def _refuse_unversioned_bulk_writes(state: ORMExecuteState) -> None:
    """A bulk UPDATE or DELETE skips the version check and leaves the version as it
    was, so a client's If-Match would still match a changed record. Refuse one on a
    versioned table unless the statement says (execution option ``OUTSIDE_VERSIONS``)
    that it does not edit the record, e.g. the time of the last login."""
    if not (state.is_update or state.is_delete):
        return
    if state.execution_options.get(OUTSIDE_VERSIONS):
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    if name in _versioned_tables():
        raise RuntimeError(
            f"Bulk {'UPDATE' if state.is_update else 'DELETE'} of versioned table {name}: "
            "change its rows through the ORM so that the version is checked and moves on."
        )


def install_version_guard() -> None:
    """Attach the bulk-statement guard to every Session once (idempotent)."""
    if not event.contains(Session, "do_orm_execute", _refuse_unversioned_bulk_writes):
        event.listen(Session, "do_orm_execute", _refuse_unversioned_bulk_writes)
