"""``/api/v1/queries`` (discrepancy management), ``/api/v1/signatures`` (sign-off and
locking) and ``/api/v1/quality`` (check rules and runs): thin: parse, call an
operation, dump."""

from __future__ import annotations

from flask import Response, current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from trialdm.auth.permissions import current_principal, requires
from trialdm.core.audit import audit_context, record_event
from trialdm.core.pagination import order_by, paginate
from trialdm.core.scoping import require_site
from trialdm.core.versions import etag_headers, if_match_required, if_match_version
from trialdm.extensions import db
from trialdm.quality import checks, exports, operations, queries, runs
from trialdm.quality.models import DataQuery, Signature
from trialdm.quality.schemas import (
    CheckRunArgs,
    CheckRunOut,
    QueryAnswer,
    QueryClose,
    QueryCountsOut,
    QueryExportArgs,
    QueryFilter,
    QueryOpen,
    QueryOut,
    QueryPage,
    QueryReopen,
    RuleOut,
    SignatureCreate,
    SignatureFilter,
    SignatureOut,
    SignaturePage,
    UnlockArgs,
)

blp = Blueprint(
    "quality",
    __name__,
    url_prefix="/api/v1",
    description="Data quality: queries, checks, e-signatures and locking",
)


@blp.route("/queries")
class Queries(MethodView):
    @requires("quality.read")
    @blp.arguments(QueryFilter, location="query")
    @blp.response(200, QueryPage)
    def get(self, args):
        """Queries of your sites; filter by site, participant, response, field, status."""
        stmt = order_by(
            queries.queries_query(args), args.get("sort"), queries.QUERY_SORTABLE, DataQuery.id
        )
        return paginate(db.session, stmt, args, DataQuery.id)

    @requires("queries.open")
    @blp.arguments(QueryOpen)
    @blp.response(201, QueryOut)
    def post(self, data):
        """Open a query on a participant's record, a response, or one field of either."""
        query = operations.open_query(db.session, current_principal(), data)
        return query, 201, {**etag_headers(query), "Location": f"/api/v1/queries/{query.id}"}


@blp.route("/queries/counts")
class QueryCounts(MethodView):
    @requires("quality.read")
    @blp.response(200, QueryCountsOut(many=True))
    def get(self):
        """Open, answered and closed queries per site (your sites)."""
        return queries.query_counts(db.session)


@blp.route("/queries/export")
class QueryExport(MethodView):
    @requires("quality.read")
    @blp.arguments(QueryExportArgs, location="query")
    @blp.doc(responses={"200": {"description": "Queries as CSV", "content": {"text/csv": {}}}})
    def get(self, args):
        """Every query of your sites (filtered) as CSV, one row per query with its
        conversation; the download is audited."""
        rows = db.session.scalars(queries.queries_query(args).order_by(DataQuery.id)).all()
        record_event(
            db.session,
            "export",
            "data_queries",
            site_code=args.get("site"),
            details={"format": "csv", "rows": len(rows), **args},
        )
        return Response(
            exports.queries_csv(rows),
            mimetype="text/csv",
            headers={"Content-Disposition": 'attachment; filename="queries.csv"'},
        )


@blp.route("/queries/<int:query_id>")
class QueryById(MethodView):
    @requires("quality.read")
    @blp.response(200, QueryOut)
    def get(self, query_id):
        """One query with its conversation; the ETag carries its version."""
        query = queries.get_query(db.session, query_id)
        return query, 200, etag_headers(query)


@blp.route("/queries/<int:query_id>/answer")
class QueryAnswerById(MethodView):
    @requires("queries.answer")
    @if_match_required(blp)
    @blp.arguments(QueryAnswer)
    @blp.response(200, QueryOut)
    def post(self, data, query_id):
        """The site answers an open query; needs If-Match."""
        query = queries.get_query(db.session, query_id)
        operations.answer_query(
            db.session, current_principal(), query, data["text"], if_match_version()
        )
        return query


@blp.route("/queries/<int:query_id>/close")
class QueryCloseById(MethodView):
    @requires("queries.close")
    @if_match_required(blp)
    @blp.arguments(QueryClose)
    @blp.response(200, QueryOut)
    def post(self, data, query_id):
        """Close a query (whoever opened it; a check's query, anyone who closes
        queries at the site); needs If-Match."""
        query = queries.get_query(db.session, query_id)
        operations.close_query(
            db.session, current_principal(), query, data.get("text"), if_match_version()
        )
        return query


@blp.route("/queries/<int:query_id>/reopen")
class QueryReopenById(MethodView):
    @requires("queries.close")
    @if_match_required(blp)
    @blp.arguments(QueryReopen)
    @blp.response(200, QueryOut)
    def post(self, data, query_id):
        """Re-open an answered or closed query, saying what is still wrong; needs If-Match."""
        query = queries.get_query(db.session, query_id)
        operations.reopen_query(
            db.session, current_principal(), query, data["text"], if_match_version()
        )
        return query


@blp.route("/signatures")
class Signatures(MethodView):
    @requires("quality.read")
    @blp.arguments(SignatureFilter, location="query")
    @blp.response(200, SignaturePage)
    def get(self, args):
        """Signatures of your sites, standing and lifted."""
        stmt = order_by(
            queries.signatures_query(args),
            args.get("sort"),
            queries.SIGNATURE_SORTABLE,
            Signature.id,
        )
        return paginate(db.session, stmt, args, Signature.id)

    @requires("responses.sign")
    @blp.arguments(SignatureCreate)
    @blp.response(201, SignatureOut)
    def post(self, data):
        """Sign a completed form, or every form of a participant at an event, with your
        password (meaning "Reviewed and approved"); the signed forms are locked."""
        signature = operations.sign(db.session, current_principal(), data)
        return (
            signature,
            201,
            {**etag_headers(signature), "Location": f"/api/v1/signatures/{signature.id}"},
        )


@blp.route("/signatures/<int:signature_id>")
class SignatureById(MethodView):
    @requires("quality.read")
    @blp.response(200, SignatureOut)
    def get(self, signature_id):
        """One signature: signer, time, meaning, and whether it still stands."""
        signature = queries.get_signature(db.session, signature_id)
        return signature, 200, etag_headers(signature)


@blp.route("/signatures/<int:signature_id>/unlock")
class SignatureUnlock(MethodView):
    @requires("responses.unlock")
    @if_match_required(blp)
    @blp.arguments(UnlockArgs)
    @blp.response(200, SignatureOut)
    def post(self, data, signature_id):
        """Lift a signature with a reason (site lead, admin): its forms can change
        again. Needs If-Match."""
        signature = queries.get_signature(db.session, signature_id)
        with audit_context(reason=data["reason"]):
            operations.unlock(
                db.session, current_principal(), signature, data["reason"], if_match_version()
            )
        return signature


@blp.route("/quality/rules")
class Rules(MethodView):
    @requires("quality.read")
    @blp.response(200, RuleOut(many=True))
    def get(self):
        """The trial's data-quality rules (quality/checks.toml)."""
        return checks.rules(current_app)


@blp.route("/quality/runs")
class CheckRuns(MethodView):
    @requires("quality.run")
    @blp.arguments(CheckRunArgs)
    @blp.response(200, CheckRunOut)
    def post(self, data):
        """Run every check at one site now; each new failure opens a query (a failure
        already queried opens nothing again)."""
        require_site(data["site"])
        return runs.run_site(db.session, data["site"])
