from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
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
    return _site_zones(session, code).get(code)


def _site_zones(session: Session, code: str | None = None) -> dict[str, str]:
    """Every site's zone, read again when older than a minute or lacking ``code``."""
    global _ZONES_READ_AT
    if time.monotonic() - _ZONES_READ_AT > ZONES_MAX_AGE or (
        code is not None and code not in _ZONES
    ):
        zones = {code: zone for code, zone in session.execute(select(Site.code, Site.timezone))}
        _ZONES.clear()
        _ZONES.update(zones)
        _ZONES_READ_AT = time.monotonic()
    return _ZONES


def site_today(session: Session, code: str) -> date:
    """Today's date at the site (the server's for an unknown site)."""
    return today(site_zone(session, code))


@dataclass(frozen=True)
class SiteDays:
    """Today's date at every site, as groups of sites by date (in date order): one
    group for most of the day, two while midnight passes between the trial's time
    zones. What is "today" for a site's records (a contact, a due date) is its own
    date, so whatever counts up to today reads each site on its own date. A site not
    in a group (added since the zones were read, at most a minute ago) belongs to the
    last, so that no site is ever left out."""

    groups: tuple[tuple[date, frozenset[str]], ...]

    def day_of(self, site: str) -> date:
        for day, codes in self.groups:
            if site in codes:
                return day
        return self.groups[-1][0] if self.groups else today()

    def days(self, sites: Iterable[str] | None = None) -> list[date]:
        """The dates to read, of ``sites`` alone when given."""
        if sites is None:
            return [day for day, _ in self.groups] or [today()]
        return list(self.grouped(sites))

    def grouped(self, sites: Iterable[str]) -> dict[date, list[str]]:
        """``sites`` under their dates, in date order."""
        found: dict[date, list[str]] = {}
        for site in sites:
            found.setdefault(self.day_of(site), []).append(site)
        return dict(sorted(found.items()))

    def before(self, day: date) -> frozenset[str]:
        """The sites of the groups before ``day``'s."""
        return frozenset().union(*(codes for d, codes in self.groups if d < day))


def sites_by_day(session: Session) -> SiteDays:
    """:class:`SiteDays` of now (the zones read at most once a minute)."""
    found: dict[date, set[str]] = {}
    for code, zone in _site_zones(session).items():
        found.setdefault(today(zone), set()).add(code)
    return SiteDays(tuple((day, frozenset(codes)) for day, codes in sorted(found.items())))


def scope_today(session: Session, site: str | None = None) -> date:
    """Today for a list of several sites' records: the date at ``site`` when the list
    is of one site, else the one date every site in the current scope is on, else
    (sites on two dates, around midnight in one of them) the server's."""
    if site is not None:
        return site_today(session, site)
    scope = current_scope()
    days = sites_by_day(session).days(None if scope.every_site else scope.codes)
    return days[0] if len(days) == 1 else today()


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
