"""The sites a page offers: where the user holds a permission."""

from __future__ import annotations

from trialdm.auth.permissions import current_principal
from trialdm.extensions import db
from trialdm.sites.queries import EVERY_SITE_SCOPE, list_sites


def sites_with(permission: str) -> list[str]:
    """Codes of the sites where the user holds ``permission``, in code order."""
    scope, roles = current_principal().scope_for(permission)
    return [s.code for s in list_sites(db.session) if roles and scope.allows(s.code)]


def job_scope_choices(permission: str, every_site_label: str) -> list[tuple[str, str]]:
    """The scopes a job form offers: every site (``every_site_label``) for those holding
    every site, then each site where the user holds ``permission``."""
    scope, roles = current_principal().scope_for(permission)
    if not roles:
        return []
    choices = [(EVERY_SITE_SCOPE, every_site_label)] if scope.every_site else []
    return choices + [
        (s.code, f"{s.code} · {s.name}") for s in list_sites(db.session) if scope.allows(s.code)
    ]
