"""The sites a page offers: where the user holds a permission."""

from __future__ import annotations

from trialdm.auth.permissions import current_principal
from trialdm.extensions import db
from trialdm.sites.queries import list_sites


def sites_with(permission: str) -> list[str]:
    """Codes of the sites where the user holds ``permission``, in code order."""
    scope, roles = current_principal().scope_for(permission)
    return [s.code for s in list_sites(db.session) if roles and scope.allows(s.code)]
