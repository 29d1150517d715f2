"""The menu: every area's main page, shown when it exists and the user may open it."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Flask, current_app
from flask_babel import lazy_gettext as _l

from trialdm.auth.permissions import current_principal
from trialdm.core.permissions import PUBLIC, declared_permission


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object  # lazy string
    permission: str


# In menu order. Areas whose pages are not installed are left out.
NAV: tuple[NavItem, ...] = (
    NavItem("web.home", _l("Dashboard"), "self"),
    NavItem("participant_pages.index", _l("Participants"), "participants.read"),
    NavItem("contact_pages.index", _l("Contacts"), "contacts.read"),
    NavItem("response_pages.index", _l("Questionnaires"), "responses.read"),
    NavItem("status_pages.index", _l("Record status"), "schedule.read"),
    NavItem("quality_pages.index", _l("Queries"), "quality.read"),
    NavItem("qualitative_pages.index", _l("Focus groups"), "qualitative.read"),
    NavItem("translation_pages.work", _l("Translation"), "translation.read"),
    NavItem("summary_pages.index", _l("Exports"), "summaries.read"),
    NavItem("reminder_pages.index", _l("Reminders"), "reminders.read"),
    NavItem("randomisation_pages.index", _l("Randomisation"), "randomisation.report"),
    NavItem("audit_pages.log", _l("Log"), "audit.read"),
)


def visible_nav() -> list[NavItem]:
    principal = current_principal()
    if principal is None:
        return []
    return [
        item
        for item in NAV
        if item.endpoint in current_app.view_functions and principal.has(item.permission)
    ]


def may(permission: str, site_code: str | None = None) -> bool:
    """For templates: whether the user holds ``permission`` (at ``site_code``). A link
    or button to an endpoint asks :func:`can` instead, which reads the endpoint's own
    declaration."""
    principal = current_principal()
    return principal is not None and principal.has(permission, site_code)


def can(endpoint: str, site_code: str | None = None, method: str = "POST") -> bool:
    """For templates: show a button (``method`` POST) or a link (GET) to ``endpoint``
    only when the rule that endpoint declares (``requires``) lets the user through at
    ``site_code`` — the same data the endpoint enforces, not a copy of it."""
    permission = declared_permission(current_app, endpoint, method)
    if permission is None:
        return False
    if permission == PUBLIC:
        return True
    return may(permission, site_code)


def local_target(target: str | None, fallback: str) -> str:
    """Only a path of this site: never an open redirect. Browsers drop tabs and
    newlines and read a backslash as a slash (``/%09/evil.example`` arrives as
    ``/<tab>/evil.example``, which they follow to ``//evil.example``), so any control
    character, space or backslash refuses the target outright."""
    if not target or any(ch < " " or ch in "\x7f \\" for ch in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return fallback
    return target


def init_navigation(app: Flask) -> None:
    @app.context_processor
    def navigation_context() -> dict:
        return {"nav_items": visible_nav, "may": may, "can": can}
