"""``/api/v1/audit``: the audit trail, for coordinators, admins and site leads (own site)."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from trialdm.audit.queries import audit_query
from trialdm.audit.schemas import AuditPage, AuditQuery
from trialdm.auth.permissions import requires
from trialdm.core.audit import AuditEvent
from trialdm.core.pagination import order_by, paginate
from trialdm.extensions import db

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit", description="Audit trail")


@blp.route("")
class Audit(MethodView):
    @requires("audit.read")
    @blp.arguments(AuditQuery, location="query")
    @blp.response(200, AuditPage)
    def get(self, args):
        """Audit events, newest first (filter by entity, id, site, user, action, time)."""
        stmt = order_by(
            audit_query(args),
            args.get("sort"),
            {"at": AuditEvent.at, "id": AuditEvent.id},
            AuditEvent.id.desc(),
        )
        return paginate(db.session, stmt, args, AuditEvent.id)
