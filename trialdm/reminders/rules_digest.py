"""The weekly digests: what the scans found in the seven days up to the digest day,
counted by rule (per site for site leads, by site and rule for coordinators). They
run last in a scan and count what it found too, so a digest counts what it lists."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, exists, func, select, union_all
from sqlalchemy.orm import Session

from trialdm.core.errors import N_
from trialdm.reminders.bulk import json_rows
from trialdm.reminders.models import Reminder
from trialdm.reminders.rules import (
    DIGEST_RULES,
    FOUND,
    WEEKDAYS,
    Finding,
    Rule,
    ScanContext,
    in_digest_week,
    iso_week,
    register,
    rule_label,
)
from trialdm.reminders.texts import text


def _is_digest_day(scan: ScanContext) -> bool:
    return WEEKDAYS[scan.local_date.weekday()] == scan.config["REMINDER_DIGEST_WEEKDAY"]


def _base(scan: ScanContext) -> str:
    """The public address the digest's links start with (they are mailed)."""
    return str(scan.config.get("BASE_URL") or "").rstrip("/")


KEY_COLUMNS = ("site_code", "rule", "dedupe_key")  # what makes a found reminder one


def _week_counts(
    session: Session, scan: ScanContext, site_code: str | None
) -> dict[tuple[str, str], int]:
    """(site, rule) -> reminders found in the seven days ending with the digest day:
    those stored and those this scan has found (the same reminder once, by its dedupe
    key, so a repeated scan counts nothing twice). ``site_code`` None: all sites.

    Counted by one statement, the stored week's rows with those of this scan's keys
    (sent as one parameter) that are not among them, grouped by site and rule: the
    stored rows stay in the database. A stored key is unique, so this is the union
    of the two without sorting the week's rows to find it (PostgreSQL sorted 75,000
    rows on a Monday at 100,000 participants to remove duplicates). In a scan of many
    sites it runs once for all the sites of the day (the digests run after every
    site's other rules, ``ManySites.planned``)."""

    def stmt(sites: list[str] | None) -> Select:
        in_week = (
            in_digest_week(Reminder.local_date, scan.local_date),
            Reminder.rule.not_in(DIGEST_RULES),
        )
        week = select(Reminder.site_code, Reminder.rule).where(
            *in_week,
            Reminder.site_code.is_not(None) if sites is None else Reminder.site_code.in_(sites),
        )
        # each (site, rule, key) once, in the order found
        found = [
            {"site_code": site, "rule": rule, "dedupe_key": key}
            for site, rule, key in dict.fromkeys(scan.planned)
            if rule not in DIGEST_RULES and site is not None and (sites is None or site in sites)
        ]
        if found:
            scanned = json_rows(session, Reminder.__table__, KEY_COLUMNS, found).subquery("found")
            stored = Reminder.__table__.alias("stored")
            new = select(scanned.c.site_code, scanned.c.rule).where(
                ~exists().where(
                    stored.c.dedupe_key == scanned.c.dedupe_key,
                    stored.c.site_code == scanned.c.site_code,
                    stored.c.rule == scanned.c.rule,
                    in_digest_week(stored.c.local_date, scan.local_date),
                    stored.c.rule.not_in(DIGEST_RULES),
                )
            )
            keys = union_all(week, new).subquery("digest_week")
        else:
            keys = week.subquery("digest_week")
        return select(keys.c.site_code, keys.c.rule, func.count().label("found")).group_by(
            keys.c.site_code, keys.c.rule
        )

    many = scan.many
    if site_code is None:
        rows = session.execute(stmt(None)).all()
    elif many is None:
        rows = session.execute(stmt([site_code])).all()
    else:
        rows = many.rows(
            session,
            "digest_week",
            scan.local_date,
            lambda: stmt(many.sites_on(scan.local_date)),
            "site_code",
            site_code,
        )
    # in Python's order of site and rule (not the database's collation)
    return {
        (row.site_code, row.rule): row.found for row in sorted(rows, key=lambda r: (r[0], r[1]))
    }


@register
class WeeklySiteDigest(Rule):
    """Weekly digest for each site lead: the reminders found at the site in the seven
    days ending with the digest day (this scan's included), counted by rule, with a
    link to each rule's list."""

    name = "weekly_site_digest"
    label = N_("Weekly digest (site)")
    audience = ("site_lead",)
    settings = ("REMINDER_DIGEST_WEEKDAY",)

    def findings(self, session: Session, scan: ScanContext) -> Iterable[Finding]:
        if not _is_digest_day(scan):
            return []
        counts = [
            (rule, count)
            for (_, rule), count in _week_counts(session, scan, scan.site_code).items()
        ]
        found = f"{_base(scan)}{FOUND}?site={scan.site_code}"
        lines = [
            text(
                N_("- %(rule)s: %(count)s (%(link)s)"),
                rule=text(rule_label(rule)),
                count=count,
                link=f"{found}&rule={rule}",
            )
            for rule, count in counts
        ] or [text(N_("- nothing was due"))]
        week = iso_week(scan.local_date)
        return [
            Finding(
                "site",
                str(scan.site_code),
                week,
                text(
                    N_("Weekly digest %(site)s %(week)s: %(count)s reminders"),
                    site=scan.site_code,
                    week=week,
                    count=sum(c for _, c in counts),
                ),
                text(N_("Reminders of the seven days up to today:"), lines=lines),
                f"{FOUND}?rule={self.name}",
            )
        ]


@register
class WeeklyTrialDigest(Rule):
    """Weekly cross-site digest for coordinators (UTC digest day): the reminders found
    at every site in the seven days ending with the digest day, by site and rule."""

    name = "weekly_trial_digest"
    label = N_("Weekly digest (all sites)")
    audience = ("coordinator",)
    settings = ("REMINDER_DIGEST_WEEKDAY",)
    trial_wide = True

    def findings(self, session: Session, scan: ScanContext) -> Iterable[Finding]:
        if not _is_digest_day(scan):
            return []
        counts = [
            (site, rule, count) for (site, rule), count in _week_counts(session, scan, None).items()
        ]
        lines = [
            text(
                N_("- %(site)s %(rule)s: %(count)s (%(link)s)"),
                site=site,
                rule=text(rule_label(rule)),
                count=count,
                link=f"{_base(scan)}{FOUND}?site={site}&rule={rule}",
            )
            for site, rule, count in counts
        ] or [text(N_("- nothing was due at any site"))]
        week = iso_week(scan.local_date)
        return [
            Finding(
                "trial",
                "all",
                week,
                text(
                    N_("Weekly digest, all sites, %(week)s: %(count)s reminders"),
                    week=week,
                    count=sum(c for *_, c in counts),
                ),
                text(N_("Reminders of the seven days up to today by site:"), lines=lines),
                f"{FOUND}?rule={self.name}",
            )
        ]
