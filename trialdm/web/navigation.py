"""The menu: every area's main page, shown when it exists and the user may open it."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app
from flask_babel import lazy_gettext as _l

from trialdm.auth.permissions import current_principal


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
    NavItem("qualitative_pages.index", _l("Focus groups"), "qualitative.read"),
    NavItem("translation_pages.work", _l("Translation"), "translation.read"),
    NavItem("summary_pages.index", _l("Exports"), "summaries.read"),
    NavItem("reminder_pages.index", _l("Reminders"), "reminders.read"),
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
    """For templates: show a link or button only to those allowed to use it."""
    principal = current_principal()
    return principal is not None and principal.has(permission, site_code)


def local_target(target: str | None, fallback: str) -> str:
    """Only local paths: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return fallback
    return target


def init_navigation(app: Flask) -> None:
    @app.context_processor
    def navigation_context() -> dict:
        return {"nav_items": visible_nav, "may": may}
