from __future__ import annotations

import time
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from trialdm.core.dates import today
from trialdm.core.errors import N_, Forbidden, Message, NotFound, ValidationFailed
from trialdm.core.scoping import current_scope, require_site
from trialdm.sites.models import Site

EVERY_SITE_SCOPE = "all"


# Site code -> IANA time zone, read at most once a minute per process: a site's zone
# changes only by `trialdm sites sync`, and entry checks read it on every save.
_ZONES: dict[str, str] = {}
_ZONES_READ_AT = 0.0
ZONES_MAX_AGE = 60.0


def site_zone(session: Session, code: str) -> str | None:
    """The site's IANA time zone (None for a site that does not exist)."""
    global _ZONES_READ_AT
    if time.monotonic() - _ZONES_READ_AT > ZONES_MAX_AGE or code not in _ZONES:
        zones = {code: zone for code, zone in session.execute(select(Site.code, Site.timezone))}
        _ZONES.clear()
        _ZONES.update(zones)
        _ZONES_READ_AT = time.monotonic()
    return _ZONES.get(code)


def site_today(session: Session, code: str) -> date:
    """Today's date at the site (the server's for an unknown site)."""
    return today(site_zone(session, code))


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


def resolve_job_scope(
    session: Session, scope: str, *, refusal: str, hint: str, field: str = "scope"
) -> tuple[str, str | None]:
    """The scope a job is asked for: ``all`` (any case) for every site, which only a
    principal holding every site may ask (else ``refusal``, with ``hint`` beside the
    field), or one of the caller's sites by code. Returns the scope as stored and the
    site code (None for every site)."""
    scope = scope.strip()
    if scope.lower() == EVERY_SITE_SCOPE:
        if not current_scope().every_site:
            raise Forbidden(refusal, errors={field: [hint]})
        return EVERY_SITE_SCOPE, None
    code = scope.upper()
    require_site(code)
    get_site(session, code, field=field)
    return code, code
