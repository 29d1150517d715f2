"""Who is asking: a bearer token (API) or the session (pages), resolved once per request."""

from __future__ import annotations

from dataclasses import replace

from flask import Flask, g, request
from flask_login import current_user

from trialdm import extensions
from trialdm.auth.models import User
from trialdm.auth.operations import principal_for_token
from trialdm.auth.permissions import Principal, authorize
from trialdm.core.audit import current_audit_context, set_audit_context
from trialdm.core.errors import N_, Unauthorized
from trialdm.core.http import is_api_request
from trialdm.core.permissions import install_authorizer
from trialdm.extensions import db, login_manager

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def principal_for(user: User, via: str) -> Principal:
    return Principal(
        user_id=user.id,
        email=user.email,
        grants=tuple((m.role, m.site_code) for m in user.memberships),
        via=via,
    )


def register_auth_loader(app: Flask) -> None:
    install_authorizer(app, authorize)
    login_manager.login_view = "web.login"

    @login_manager.user_loader
    def load_user(session_id: str) -> User | None:
        """``"<user id>.<session generation>"``: a session from before the account's
        last logout, password change or deactivation no longer loads."""
        user_id, _, generation = session_id.partition(".")
        if not (user_id.isdigit() and generation.isdigit()):
            return None
        user = db.session.get(User, int(user_id))
        if user is None or not user.active or user.session_generation != int(generation):
            return None
        return user

    @app.before_request
    def identify() -> None:
        g.principal = None
        header = request.headers.get("Authorization", "")
        principal: Principal | None = None
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthorized(N_("Use 'Authorization: Bearer <token>'."))
            principal = principal_for_token(db.session, token.strip())
            if principal is None:
                raise Unauthorized(N_("The API token is not valid or was revoked."))
        elif current_user.is_authenticated:
            if is_api_request() and request.method in UNSAFE_METHODS:
                extensions.csrf.protect()  # a session-authenticated write must come from our pages
            principal = principal_for(current_user._get_current_object(), "page")
        if principal is None:
            return
        g.principal = principal
        set_audit_context(
            replace(current_audit_context(), user_id=principal.user_id, user_email=principal.email)
        )
