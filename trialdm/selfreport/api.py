"""``/api/v1/self-report-links``: one-time links to a questionnaire that participants
fill in themselves (the page they open is in ``views.py``)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from trialdm.auth.permissions import requires
from trialdm.core.pagination import paginate
from trialdm.extensions import db
from trialdm.participants.queries import get_participant
from trialdm.selfreport import operations, queries
from trialdm.selfreport.models import SelfReportLink
from trialdm.selfreport.schemas import (
    LinkCreate,
    LinkCreated,
    LinkOut,
    LinkPage,
    LinkQuery,
    LinkRevoke,
)

blp = Blueprint(
    "self_report_links",
    __name__,
    url_prefix="/api/v1/self-report-links",
    description="One-time links to questionnaires participants fill in themselves",
)


def with_state(link: SelfReportLink) -> SelfReportLink:
    link.state = operations.link_state(link)  # type: ignore[attr-defined]
    return link


@blp.route("")
class Links(MethodView):
    @requires("responses.read")
    @blp.arguments(LinkQuery, location="query")
    @blp.response(200, LinkPage)
    def get(self, args):
        """Self-report links of your sites (never their tokens)."""
        page = paginate(
            db.session,
            queries.links_query(args).order_by(SelfReportLink.id),
            args,
            SelfReportLink.id,
        )
        page["items"] = [with_state(link) for link in page["items"]]
        return page

    @requires("responses.write")
    @blp.arguments(LinkCreate)
    @blp.response(201, LinkCreated)
    def post(self, data):
        """Make a link to one questionnaire of one event of a participant. The answer
        holds the link (and its QR code) once; only a hash of its token is kept. An open
        link to the same questionnaire is revoked."""
        participant = get_participant(db.session, data["participant_id"])
        link, token = operations.create_link(db.session, participant, data)
        url = queries.link_url(token)
        if data.get("email"):
            operations.email_link(db.session, link, url, data["email"])
        shown: Any = with_state(link)
        shown.url, shown.qr_svg = url, queries.qr_svg_data_uri(url)
        shown.emailed = bool(data.get("email"))
        return shown, 201, {"Location": f"/api/v1/self-report-links/{link.id}"}


@blp.route("/<int:link_id>")
class LinkById(MethodView):
    @requires("responses.read")
    @blp.response(200, LinkOut)
    def get(self, link_id):
        """One link: its state (open, completed, revoked, expired) and response."""
        return with_state(queries.get_link(db.session, link_id))


@blp.route("/<int:link_id>/revoke")
class LinkRevocation(MethodView):
    @requires("responses.write")
    @blp.arguments(LinkRevoke)
    @blp.response(200, LinkOut)
    def post(self, data, link_id):
        """Revoke an open link (e.g. a lost phone); the answers saved so far stay."""
        link = queries.get_link(db.session, link_id)
        return with_state(operations.revoke_link(db.session, link, data["reason"]))
