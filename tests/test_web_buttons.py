"""Buttons and links only for actions the person may take, checked as data.

For each role, the demo data's pages are walked from the dashboard (a few pages per
endpoint, following links); on every page, each form that posts and each link is
matched to its endpoint, and the permission that endpoint declares (``requires``,
the rule it enforces) must let the role through. Every page the walk opens must
open (no 403) for that role."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlsplit

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from tests.web_helpers import PASSWORD
from trialdm.auth.permissions import Principal
from trialdm.core.permissions import PUBLIC, declared_permission
from trialdm.demo.operations import load_demo

ROLES = {
    "research_worker": ["BU"],
    "site_lead": ["BU"],
    "translator": ["BU"],
    "reviewer": ["BU"],
    "monitor": [],
    "coordinator": [],
    "statistician": [],
    "admin": [],
}
PAGES_PER_ROLE = 70
# pages opened per endpoint: several records of a kind show different buttons
PAGES_PER_ENDPOINT = 2
FORM = re.compile(r"<form\b([^>]*)>", re.I)
LINK = re.compile(r'<a\b[^>]*\bhref="([^"]+)"', re.I)
# not followed (they download files or end the session); still checked against the rule
NOT_FOLLOWED = re.compile(r"download|/logout|\.(xlsx|zip|csv|json|pdf|svg)$")


def attribute(tag: str, name: str) -> str | None:
    found = re.search(rf'\b{name}="([^"]*)"', tag)
    return unescape(found.group(1)) if found else None


def targets(page_path: str, html: str) -> list[tuple[str, str]]:
    """(method, path) of every form that posts and every local link of a page."""
    out = []
    for tag in FORM.findall(html):
        if (attribute(tag, "method") or "get").lower() == "post":
            out.append(("POST", urlsplit(attribute(tag, "action") or page_path).path))
    for action in re.findall(r'\bformaction="([^"]+)"', html):
        out.append(("POST", urlsplit(unescape(action)).path))
    for href in LINK.findall(html):
        href = unescape(href)
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or not parts.path.startswith("/"):
            continue
        out.append(("GET", parts.path))
    return out


def walk(app, client, principal: Principal) -> tuple[list[str], list[str]]:
    adapter = app.url_map.bind("localhost")
    refused: list[str] = []
    opened: list[str] = []
    followed: dict[str, int] = {}
    queue, seen = ["/"], {"/"}
    while queue and len(opened) < PAGES_PER_ROLE:
        path = queue.pop(0)
        response = client.get(path)
        if response.status_code == 403:
            refused.append(f"GET {path} answered 403")
            continue
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        opened.append(path)
        for method, target in targets(path, response.get_data(as_text=True)):
            try:
                endpoint, _ = adapter.match(target, method=method)
            except (NotFound, MethodNotAllowed, RequestRedirect):
                continue
            permission = declared_permission(app, endpoint, method)
            if permission is None or (permission != PUBLIC and not principal.has(permission)):
                refused.append(f"{path}: {method} {target} ({endpoint} needs {permission})")
                continue
            if (
                method == "GET"
                and target not in seen
                and followed.get(endpoint, 0) < PAGES_PER_ENDPOINT
                and not NOT_FOLLOWED.search(target)
                and not endpoint.startswith(("web.static", "static"))
            ):
                seen.add(target)
                followed[endpoint] = followed.get(endpoint, 0) + 1
                queue.append(target)
    return opened, refused


@pytest.mark.parametrize("role", list(ROLES))
def test_every_button_and_link_is_one_the_role_may_use(app, db_session, role):
    from trialdm.auth.operations import create_user

    for _ in load_demo(db_session, seed=7):
        pass
    user = create_user(db_session, f"{role}@buttons.test", role, ROLES[role], PASSWORD)
    db_session.commit()
    grants = tuple((role, site) for site in ROLES[role]) or ((role, None),)
    principal = Principal(user_id=user.id, email=user.email, grants=grants, via="page")
    client = app.test_client()
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    opened, refused = walk(app, client, principal)
    assert len(opened) >= 3, opened
    assert not refused, "\n".join(refused)
