from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from trialdm.core.errors import N_, Message, ValidationFailed
from trialdm.sites.models import Site


def all_sites(session: Session) -> list[Site]:
    return list(session.scalars(select(Site).order_by(Site.code)))


def get_site(session: Session, code: str, field: str = "site") -> Site:
    site = session.get(Site, code)
    if site is None:
        raise ValidationFailed.field(field, Message(N_("Unknown site '%(code)s'."), code=code))
    return site
