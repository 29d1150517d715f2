"""``/api/v1/instruments`` (definitions, labels, REDCap export) and
``/api/v1/responses`` (questionnaire answers): thin: parse, call an operation, dump."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from trialdm.auth.permissions import requires
from trialdm.core.audit import audit_context, record_event
from trialdm.core.pagination import order_by, paginate
from trialdm.core.versions import etag_headers, if_match_required, if_match_version
from trialdm.extensions import db
from trialdm.instruments import operations, queries
from trialdm.instruments.definitions import MISSING_CODES
from trialdm.instruments.models import InstrumentResponse
from trialdm.instruments.schemas import (
    InstrumentOut,
    InstrumentQuery,
    InstrumentSummary,
    RedcapExportQuery,
    ResponseCreate,
    ResponseDeleteArgs,
    ResponseOut,
    ResponsePage,
    ResponseQuery,
    ResponseUpdate,
)

blp = Blueprint(
    "instruments",
    __name__,
    url_prefix="/api/v1",
    description="Instruments (questionnaires as data) and responses",
)


def _instrument_out(version, language: str) -> dict:
    return {
        "name": version.name,
        "version": version.version,
        "language": language,
        "labels": queries.labels_for(version, language),
        "definition": version.definition,
        "missing_codes": MISSING_CODES,
        "synced_at": version.synced_at,
    }


@blp.route("/instruments")
class Instruments(MethodView):
    @requires("instruments.read")
    @blp.response(200, InstrumentSummary(many=True))
    def get(self):
        """The newest version of every instrument, with the version numbers stored."""
        numbers = queries.version_numbers(db.session)
        out = []
        for version in queries.latest_versions(db.session):
            version.versions = numbers.get(version.name, [])
            out.append(version)
        return out


@blp.route("/instruments/<instrument_name>")
class InstrumentByName(MethodView):
    @requires("instruments.read")
    @blp.arguments(InstrumentQuery, location="query")
    @blp.response(200, InstrumentOut)
    def get(self, args, instrument_name):
        """The newest version: definition and labels in ``lang`` (English fallback)."""
        version = queries.get_instrument_version(db.session, instrument_name)
        return _instrument_out(version, args["lang"])


@blp.route("/instruments/<instrument_name>/versions/<int:instrument_version>")
class InstrumentVersionByNumber(MethodView):
    @requires("instruments.read")
    @blp.arguments(InstrumentQuery, location="query")
    @blp.response(200, InstrumentOut)
    def get(self, args, instrument_name, instrument_version):
        """One stored version, old ones included."""
        found = queries.get_instrument_version(db.session, instrument_name, instrument_version)
        return _instrument_out(found, args["lang"])


@blp.route("/instruments/<instrument_name>/redcap")
class InstrumentRedcap(MethodView):
    @requires("instruments.read")
    @blp.arguments(RedcapExportQuery, location="query")
    @blp.doc(
        responses={"200": {"description": "REDCap data dictionary", "content": {"text/csv": {}}}}
    )
    def get(self, args, instrument_name):
        """The instrument as a REDCap data dictionary (CSV, the 18 standard columns)."""
        from trialdm.instruments.redcap import export_dictionary

        found = queries.get_instrument_version(db.session, instrument_name, args.get("version"))
        record_event(
            db.session,
            "export",
            "instrument_versions",
            found.id,
            details={"format": "redcap", "name": found.name, "version": found.version},
        )
        return Response(
            export_dictionary([found.parsed]),
            mimetype="text/csv",
            headers={
                "Content-Disposition": (
                    f'attachment; filename="{found.name}_v{found.version}_redcap.csv"'
                )
            },
        )


@blp.route("/responses")
class Responses(MethodView):
    @requires("responses.read")
    @blp.arguments(ResponseQuery, location="query")
    @blp.response(200, ResponsePage)
    def get(self, args):
        """Responses of your sites (filter by participant, event, instrument, status)."""
        stmt = order_by(
            queries.responses_query(args),
            args.get("sort"),
            queries.RESPONSE_SORTABLE,
            InstrumentResponse.id,
        )
        return paginate(db.session, stmt, args, InstrumentResponse.id)

    @requires("responses.write")
    @blp.arguments(ResponseCreate)
    @blp.response(201, ResponseOut)
    def post(self, data):
        """Enter a response; answers are checked against the instrument version."""
        response = operations.create_response(db.session, data)
        return (
            response,
            201,
            {
                **etag_headers(response),
                "Location": f"/api/v1/responses/{response.id}",
            },
        )


@blp.route("/responses/<int:response_id>")
class ResponseById(MethodView):
    @requires("responses.read")
    @blp.response(200, ResponseOut)
    def get(self, response_id):
        """One response with its answers and scores; the ETag carries its version."""
        response = queries.get_response(db.session, response_id)
        return response, 200, etag_headers(response)

    @requires("responses.write")
    @if_match_required(blp)
    @blp.arguments(ResponseUpdate)
    @blp.response(200, ResponseOut)
    def patch(self, data, response_id):
        """Change answers (null clears one) or status; needs If-Match, and a reason
        once the response was complete."""
        response = queries.get_response(db.session, response_id)
        with audit_context(reason=data.get("reason")):
            operations.update_response(db.session, response, data, if_match_version())
        return response

    @requires("responses.write")
    @if_match_required(blp)
    @blp.arguments(ResponseDeleteArgs, location="query")
    @blp.response(204)
    def delete(self, args, response_id):
        """Delete (softly, kept for the audit trail); needs If-Match and a reason."""
        response = queries.get_response(db.session, response_id)
        with audit_context(reason=args["reason"]):
            operations.delete_response(db.session, response, if_match_version())
