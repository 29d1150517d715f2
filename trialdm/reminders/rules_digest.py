"""The weekly digests: what the scans found in the seven days up to the digest day,
counted by rule (per site for site leads, by site and rule for coordinators). They
run last in a scan and count what it found too, so a digest counts what it lists."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from sqlalchemy import CompoundSelect, Select, func, literal, select, union_all
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

    Counted by one statement: the stored week's rows grouped by site and rule, and
    this scan's keys (sent as one parameter) not stored among them, grouped likewise;
    the two counts of a site and rule are added here. A stored key is unique, so
    this is the union of the two without removing duplicates from the week's rows
    (PostgreSQL sorted or hashed 75,000 rows, spilling to disk, on a Monday at
    100,000 participants). Whether a found key is stored is one look-up of the unique
    key per row, a scalar subquery the planner keeps as such (as ``NOT EXISTS`` it
    may hash the week's rows instead when their statistics are stale, as they are
    right after a large first day). The stored rows stay in the database. In a scan
    of many sites it runs once for all the sites of the day (the digests run after
    every site's other rules, ``ManySites.planned``)."""

    def stmt(sites: list[str] | None) -> Select:
        week = (
            select(Reminder.site_code, Reminder.rule, func.count().label("found"))
            .where(
                in_digest_week(Reminder.local_date, scan.local_date),
                Reminder.rule.not_in(DIGEST_RULES),
                Reminder.site_code.is_not(None) if sites is None else Reminder.site_code.in_(sites),
            )
            .group_by(Reminder.site_code, Reminder.rule)
        )
        # each (site, rule, key) once
        found = [
            {"site_code": site, "rule": rule, "dedupe_key": key}
            for site, rule, key in dict.fromkeys(scan.planned)
            if rule not in DIGEST_RULES and site is not None and (sites is None or site in sites)
        ]
        if not found:
            return _named(week)
        scanned = json_rows(session, Reminder.__table__, KEY_COLUMNS, found).subquery("found")
        stored = Reminder.__table__.alias("stored")
        in_week = (
            select(literal(1))
            .where(
                stored.c.dedupe_key == scanned.c.dedupe_key,
                stored.c.site_code == scanned.c.site_code,
                stored.c.rule == scanned.c.rule,
                in_digest_week(stored.c.local_date, scan.local_date),
                stored.c.rule.not_in(DIGEST_RULES),
            )
            .limit(1)
            .scalar_subquery()
        )
        new = (
            select(scanned.c.site_code, scanned.c.rule, func.count().label("found"))
            .where(in_week.is_(None))
            .group_by(scanned.c.site_code, scanned.c.rule)
        )
        return _named(union_all(week, new))

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
    counts: Counter[tuple[str, str]] = Counter()
    for row in rows:
        counts[(row.site_code, row.rule)] += row.found
    # in Python's order of site and rule (not the database's collation)
    return dict(sorted(counts.items()))


def _named(counts: Select | CompoundSelect) -> Select:
    """The week's counts as the statement's one named subquery (what a reader of the
    statement log looks for)."""
    named = counts.subquery("digest_week")
    return select(named.c.site_code, named.c.rule, named.c.found)


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
