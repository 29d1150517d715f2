"""``/api/v1/sites``: the trial's sites (reference data, readable by every user)."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from trialdm.auth.permissions import requires
from trialdm.core.errors import N_, NotFound
from trialdm.extensions import db
from trialdm.sites import queries
from trialdm.sites.models import Site
from trialdm.sites.schemas import SiteOut

blp = Blueprint("sites", __name__, url_prefix="/api/v1/sites", description="Trial sites")


@blp.route("")
class Sites(MethodView):
    @requires("self")
    @blp.response(200, SiteOut(many=True))
    def get(self):
        """Every site of the trial."""
        return queries.all_sites(db.session)


@blp.route("/<code>")
class SiteByCode(MethodView):
    @requires("self")
    @blp.response(200, SiteOut)
    def get(self, code):
        """One site."""
        site = db.session.get(Site, code.upper())
        if site is None:
            raise NotFound(N_("No such site."))
        return site
