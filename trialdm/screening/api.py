"""``/api/v1/screening``: the screening log of a site (audited, soft-deleted)."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from trialdm.auth.permissions import requires
from trialdm.core.audit import audit_context
from trialdm.core.pagination import order_by, paginate
from trialdm.core.versions import etag_headers, if_match_required, if_match_version
from trialdm.extensions import db
from trialdm.screening import operations, queries
from trialdm.screening.schemas import (
    DeleteArgs,
    ScreeningCreate,
    ScreeningOut,
    ScreeningPage,
    ScreeningQuery,
    ScreeningUpdate,
)

blp = Blueprint(
    "screening",
    __name__,
    url_prefix="/api/v1/screening",
    description="People assessed for eligibility (CONSORT screening log)",
)


@blp.route("")
class ScreeningEntries(MethodView):
    @requires("participants.read")
    @blp.arguments(ScreeningQuery, location="query")
    @blp.response(200, ScreeningPage)
    def get(self, args):
        """The screening log of your sites (filter, sort, page)."""
        stmt = order_by(
            queries.entries_query(args),
            args.get("sort"),
            queries.SORTABLE,
            queries.ScreeningEntry.id,
        )
        return paginate(db.session, stmt, args, queries.ScreeningEntry.id)

    @requires("participants.write")
    @blp.arguments(ScreeningCreate)
    @blp.response(201, ScreeningOut)
    def post(self, data):
        """Record one screening: date, outcome, and the reason when not eligible or declined."""
        entry = operations.create_entry(db.session, data)
        return (
            entry,
            201,
            {**etag_headers(entry), "Location": f"/api/v1/screening/{entry.id}"},
        )


@blp.route("/<int:screening_id>")
class ScreeningById(MethodView):
    @requires("participants.read")
    @blp.response(200, ScreeningOut)
    def get(self, screening_id):
        """One screening entry; the ETag carries its version for If-Match."""
        entry = queries.get_entry(db.session, screening_id)
        return entry, 200, etag_headers(entry)

    @requires("participants.write")
    @if_match_required(blp)
    @blp.arguments(ScreeningUpdate)
    @blp.response(200, ScreeningOut)
    def patch(self, data, screening_id):
        """Change fields (e.g. link the enrolled participant); needs If-Match and a reason."""
        entry = queries.get_entry(db.session, screening_id)
        with audit_context(reason=data["reason"]):
            operations.update_entry(db.session, entry, data, if_match_version())
        return entry

    @requires("participants.write")
    @if_match_required(blp)
    @blp.arguments(DeleteArgs, location="query")
    @blp.response(204)
    def delete(self, args, screening_id):
        """Delete (softly, kept for the audit trail); needs If-Match and a reason."""
        entry = queries.get_entry(db.session, screening_id)
        with audit_context(reason=args["reason"]):
            operations.delete_entry(db.session, entry, if_match_version())
