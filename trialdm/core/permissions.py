"""Permission declarations: every endpoint says, as data on its view, which permission
it needs (:func:`requires`) or that it needs none (:func:`public`);
:func:`check_endpoint_permissions` refuses to start an app with an endpoint that
declares nothing.

What a permission grants is the auth domain's (roles, memberships, the site scope it
narrows to): it installs its ``authorize`` with :func:`install_authorizer`, so every
domain, the sites domain included, declares permissions without depending on auth.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app

PUBLIC = "public"
PERMISSION_ATTR = "__trialdm_permission__"
# Framework endpoints that are public by nature.
PUBLIC_ENDPOINTS = {"static", "api-docs.openapi_json", "web.static"}
_AUTHORIZER = "trialdm.authorize"


def install_authorizer(app: Flask, authorize: Callable[[str], Any]) -> None:
    """``authorize(permission)`` enforces a permission for the current request (raising
    Unauthorized or Forbidden) and narrows the request's site scope to it."""
    app.extensions[_AUTHORIZER] = authorize


def requires(permission: str) -> Callable:
    """Declare (and enforce) the permission an endpoint needs."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            current_app.extensions[_AUTHORIZER](permission)
            return view(*args, **kwargs)

        setattr(wrapper, PERMISSION_ATTR, permission)
        return wrapper

    return decorate


def public(view: Callable) -> Callable:
    """Declare that an endpoint needs no login (login page, health, OpenAPI)."""
    setattr(view, PERMISSION_ATTR, PUBLIC)
    return view


def declared_permission(app: Flask, endpoint: str, method: str = "GET") -> str | None:
    """The permission ``endpoint`` declares for ``method`` (None when it has no such
    endpoint or method): what a page asks before showing a link or button to it."""
    view = app.view_functions.get(endpoint)
    if view is None:
        return None
    view_class = getattr(view, "view_class", None)
    target = getattr(view_class, method.lower(), None) if view_class else view
    return getattr(target, PERMISSION_ATTR, None)


def endpoint_permissions(app: Flask) -> dict[tuple[str, str], str | None]:
    """(endpoint, method) -> declared permission (None when missing)."""
    found: dict[tuple[str, str], str | None] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS or rule.endpoint.endswith(".static"):
            continue
        view = app.view_functions[rule.endpoint]
        view_class = getattr(view, "view_class", None)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            target = getattr(view_class, method.lower(), None) if view_class else view
            found[(rule.endpoint, method)] = getattr(target, PERMISSION_ATTR, None)
    return found


def check_endpoint_permissions(app: Flask) -> None:
    missing = [f"{ep} {m}" for (ep, m), perm in endpoint_permissions(app).items() if perm is None]
    if missing:
        raise RuntimeError("Endpoints without a declared permission: " + ", ".join(missing))
