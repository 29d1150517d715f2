"""``/api/v1/me``, ``/api/v1/tokens`` (own tokens) and ``/api/v1/users`` (admins)."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from trialdm.auth import operations
from trialdm.auth.models import ApiToken, User
from trialdm.auth.permissions import current_principal, requires
from trialdm.auth.schemas import (
    GrantIn,
    NewTokenOut,
    TokenCreate,
    TokenOut,
    UserCreate,
    UserOut,
    UserUpdate,
)
from trialdm.core.errors import N_
from trialdm.core.queries import get_or_404
from trialdm.core.versions import etag_headers, if_match_required, if_match_version
from trialdm.extensions import db

blp = Blueprint("auth", __name__, url_prefix="/api/v1", description="Accounts and API tokens")


def _me() -> User:
    return db.session.get(User, current_principal().user_id)


@blp.route("/me")
class Me(MethodView):
    @requires("self")
    @blp.response(200, UserOut)
    def get(self):
        """Your account and roles."""
        return _me()


@blp.route("/tokens")
class Tokens(MethodView):
    @requires("self")
    @blp.response(200, TokenOut(many=True))
    def get(self):
        """Your API tokens (never the tokens themselves)."""
        return db.session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == current_principal().user_id)
            .order_by(ApiToken.id)
        ).all()

    @requires("self")
    @blp.arguments(TokenCreate)
    @blp.response(201, NewTokenOut)
    def post(self, data):
        """Create a token; it is shown in this response only."""
        row, token = operations.create_token(db.session, _me(), data["name"], redcap=data["redcap"])
        row.plain_token = token  # on this response only; never stored
        return row


@blp.route("/tokens/<int:token_id>")
class TokenById(MethodView):
    @requires("self")
    @blp.response(204)
    def delete(self, token_id):
        """Revoke one of your tokens."""
        operations.revoke_token(db.session, _me(), token_id)


def _user(user_id: int) -> User:
    return get_or_404(db.session, User, user_id, missing=N_("No such user."))


@blp.route("/users")
class Users(MethodView):
    @requires("users.manage")
    @blp.response(200, UserOut(many=True))
    def get(self):
        """All users (admins)."""
        return db.session.scalars(select(User).order_by(User.email)).all()

    @requires("users.manage")
    @blp.arguments(UserCreate)
    @blp.response(201, UserOut)
    def post(self, data):
        """Create a user with a role (admins)."""
        return operations.create_user(
            db.session,
            data["email"],
            data["role"],
            data["sites"],
            data["password"],
            data["display_name"],
        )


@blp.route("/users/<int:user_id>")
class UserById(MethodView):
    @requires("users.manage")
    @blp.response(200, UserOut)
    def get(self, user_id):
        """One user (admins); the ETag carries its version for If-Match."""
        user = _user(user_id)
        return user, 200, etag_headers(user)

    @requires("users.manage")
    @if_match_required(blp)
    @blp.arguments(UserUpdate)
    @blp.response(200, UserOut)
    def patch(self, data, user_id):
        """Deactivate or edit a user (admins); needs If-Match."""
        principal = current_principal()
        return operations.update_user(
            db.session,
            _user(user_id),
            data,
            if_match_version(),
            actor_id=principal.user_id if principal else None,
        )


@blp.route("/users/<int:user_id>/memberships")
class UserMemberships(MethodView):
    @requires("users.manage")
    @blp.arguments(GrantIn)
    @blp.response(201, UserOut)
    def post(self, data, user_id):
        """Grant a role at sites (admins; audited)."""
        user = _user(user_id)
        operations.grant(db.session, user, data["role"], data["sites"])
        return user


@blp.route("/users/<int:user_id>/memberships/<int:membership_id>")
class UserMembershipById(MethodView):
    @requires("users.manage")
    @if_match_required(blp)
    @blp.response(204)
    def delete(self, user_id, membership_id):
        """Remove a role (admins; audited); needs If-Match with the membership's version."""
        user = _user(user_id)
        membership = operations.get_membership(user, membership_id)
        operations.revoke_membership(db.session, user, membership, if_match_version())
