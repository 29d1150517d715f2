"""``/api/v1/contact-sessions``, ``/api/v1/psws`` and ``/api/v1/sites/<code>/fidelity``."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from trialdm.auth.permissions import requires
from trialdm.contacts import operations, queries
from trialdm.contacts.psws import psw_criteria
from trialdm.contacts.schemas import (
    AsOfArgs,
    ContactSessionCreate,
    ContactSessionOut,
    ContactSessionPage,
    ContactSessionQuery,
    ContactSessionUpdate,
    DeleteArgs,
    PswCreate,
    PswOut,
    PswPage,
    PswQuery,
    PswUpdate,
    SiteFidelityOut,
)
from trialdm.core.audit import audit_context
from trialdm.core.errors import N_
from trialdm.core.pagination import order_by, paginate
from trialdm.core.queries import get_or_404
from trialdm.core.scoping import require_site
from trialdm.core.versions import etag_headers, if_match_required, if_match_version
from trialdm.extensions import db
from trialdm.participants import operations as participant_operations
from trialdm.participants.models import Participant
from trialdm.sites.queries import find_site

blp = Blueprint(
    "contacts",
    __name__,
    url_prefix="/api/v1",
    description="Peer support contact sessions, PSWs and intervention fidelity",
)


@blp.route("/contact-sessions")
class ContactSessions(MethodView):
    @requires("contacts.read")
    @blp.arguments(ContactSessionQuery, location="query")
    @blp.response(200, ContactSessionPage)
    def get(self, args):
        """List contact sessions of your sites (filter, sort, page)."""
        stmt = queries.contact_sessions_query(args)
        stmt = order_by(stmt, args.get("sort"), queries.SORTABLE, queries.ContactSession.id)
        return paginate(db.session, stmt, args, queries.ContactSession.id)

    @requires("contacts.write")
    @blp.arguments(ContactSessionCreate)
    @blp.response(201, ContactSessionOut)
    def post(self, data):
        """Record a session: its PSWs and attendees (each attendance is one contact)."""
        contact = operations.create_contact_session(db.session, data)
        return (
            contact,
            201,
            {
                **etag_headers(contact),
                "Location": f"/api/v1/contact-sessions/{contact.id}",
            },
        )


@blp.route("/contact-sessions/<int:contact_session_id>")
class ContactSessionById(MethodView):
    @requires("contacts.read")
    @blp.response(200, ContactSessionOut)
    def get(self, contact_session_id):
        """One contact session; the ETag carries its version for If-Match."""
        contact = queries.get_contact_session(db.session, contact_session_id)
        return contact, 200, etag_headers(contact)

    @requires("contacts.write")
    @if_match_required(blp)
    @blp.arguments(ContactSessionUpdate)
    @blp.response(200, ContactSessionOut)
    def patch(self, data, contact_session_id):
        """Change fields, PSWs or attendees; needs If-Match and a reason."""
        contact = queries.get_contact_session(db.session, contact_session_id)
        with audit_context(reason=data["reason"]):
            operations.update_contact_session(db.session, contact, data, if_match_version())
        return contact

    @requires("contacts.write")
    @if_match_required(blp)
    @blp.arguments(DeleteArgs, location="query")
    @blp.response(204)
    def delete(self, args, contact_session_id):
        """Delete (softly; its contacts no longer count); needs If-Match and a reason."""
        contact = queries.get_contact_session(db.session, contact_session_id)
        with audit_context(reason=args["reason"]):
            operations.delete_contact_session(db.session, contact, if_match_version())


def _get_psw(psw_id: int) -> Participant:
    return get_or_404(
        db.session,
        Participant,
        psw_id,
        Participant.category == "psw",
        missing=N_("No such peer support worker."),
    )


@blp.route("/psws")
class Psws(MethodView):
    @requires("participants.read")
    @blp.arguments(PswQuery, location="query")
    @blp.response(200, PswPage)
    def get(self, args):
        """Peer support workers of your sites (participants of category psw)."""
        stmt = select(Participant).where(*psw_criteria(args.get("site"), args.get("active")))
        if args.get("q"):
            stmt = stmt.where(Participant.study_id.icontains(args["q"].strip(), autoescape=True))
        stmt = order_by(
            stmt,
            args.get("sort"),
            {"id": Participant.id, "study_id": Participant.study_id, "site": Participant.site_code},
            Participant.id,
        )
        return paginate(db.session, stmt, args, Participant.id)

    @requires("participants.write")
    @blp.arguments(PswCreate)
    @blp.response(201, PswOut)
    def post(self, data):
        """Register a PSW (a participant of category psw); active unless said otherwise."""
        psw = participant_operations.create_participant(db.session, {**data, "category": "psw"})
        return (
            psw,
            201,
            {**etag_headers(psw), "Location": f"/api/v1/psws/{psw.id}"},
        )


@blp.route("/psws/<int:psw_id>")
class PswById(MethodView):
    @requires("participants.read")
    @blp.response(200, PswOut)
    def get(self, psw_id):
        """One PSW."""
        psw = _get_psw(psw_id)
        return psw, 200, etag_headers(psw)

    @requires("participants.write")
    @if_match_required(blp)
    @blp.arguments(PswUpdate)
    @blp.response(200, PswOut)
    def patch(self, data, psw_id):
        """Change training date, active flag or details; needs If-Match and a reason."""
        psw = _get_psw(psw_id)
        with audit_context(reason=data["reason"]):
            participant_operations.update_participant(db.session, psw, data, if_match_version())
        return psw


@blp.route("/sites/<code>/fidelity")
class SiteFidelity(MethodView):
    @requires("fidelity.read")
    @blp.arguments(AsOfArgs, location="query")
    @blp.response(200, SiteFidelityOut)
    def get(self, args, code):
        """How many intervention participants of a site are in each fidelity status."""
        code = find_site(db.session, code).code
        require_site(code)
        return queries.site_fidelity_summary(db.session, code, args.get("as_of"))
