from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from trialdm.core.errors import N_, Message, NotFound, ValidationFailed
from trialdm.sites.models import Site


def list_sites(session: Session) -> list[Site]:
    return list(session.scalars(select(Site).order_by(Site.code)))


def find_site(session: Session, code: str) -> Site:
    """The site with ``code`` (any case), or NotFound."""
    site = session.get(Site, code.upper())
    if site is None:
        raise NotFound(N_("No such site."))
    return site


def get_site(session: Session, code: str, field: str = "site") -> Site:
    site = session.get(Site, code)
    if site is None:
        raise ValidationFailed.field(field, Message(N_("Unknown site '%(code)s'."), code=code))
    return site
