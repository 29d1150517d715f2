"""Reminder rules: each a small named class with its settings and one query per scan.

A rule looks at one site on one site-local day (or, for trial-wide rules, at the
whole trial on one UTC day) and yields :class:`Finding` s. It must be set-based:
one SELECT for the whole site, never a query per participant. The scan turns a
finding into a reminder whose dedupe key is ``rule:subject_type:subject_id:period``;
the period decides when the same subject earns a new reminder (the same event is
reminded once; an at-risk participant once a week). Texts name participants by
study ID only: they go out by e-mail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, ClassVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trialdm.reminders.models import Reminder

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SITE_TEAM = ("research_worker", "site_lead")
FOUND = "/api/v1/reminders/found"  # the list the digests link to


@dataclass(frozen=True)
class ScanContext:
    """What a rule evaluates: one site (None: the whole trial) on one day."""

    site_code: str | None
    local_date: date
    config: Mapping[str, Any]


@dataclass(frozen=True)
class Finding:
    subject_type: str
    subject_id: str
    period: str
    title: str
    body: str = ""
    link: str = ""


class Rule:
    """A reminder rule. Subclasses set ``name``, ``label``, ``audience`` (roles at
    the site, or ``coordinator`` for trial-wide rules), ``settings`` (the names in
    :mod:`trialdm.config` it reads) and implement :meth:`findings` with one query."""

    name: ClassVar[str]
    label: ClassVar[str]
    audience: ClassVar[tuple[str, ...]] = SITE_TEAM
    settings: ClassVar[tuple[str, ...]] = ()
    trial_wide: ClassVar[bool] = False

    def findings(self, session: Session, scan: ScanContext) -> Iterable[Finding]:
        raise NotImplementedError

    def dedupe_key(self, finding: Finding) -> str:
        return f"{self.name}:{finding.subject_type}:{finding.subject_id}:{finding.period}"


RULES: dict[str, Rule] = {}


def register(cls: type[Rule]) -> type[Rule]:
    RULES[cls.name] = cls()
    return cls


def active_rules(config: Mapping[str, Any], *, trial_wide: bool) -> list[Rule]:
    disabled = set(config.get("REMINDER_DISABLED_RULES") or ())
    return [
        rule
        for name, rule in RULES.items()
        if name not in disabled and rule.trial_wide == trial_wide
    ]


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def rule_label(name: str) -> str:
    rule = RULES.get(name)
    return rule.label if rule else name


def _is_digest_day(scan: ScanContext) -> bool:
    return WEEKDAYS[scan.local_date.weekday()] == scan.config["REMINDER_DIGEST_WEEKDAY"]


DIGEST_RULES = ("weekly_site_digest", "weekly_trial_digest")


@register
class WeeklySiteDigest(Rule):
    """Weekly digest for each site lead: the reminders found at the site in the seven
    days before the digest day, counted by rule, with a link to each rule's list."""

    name = "weekly_site_digest"
    label = "Weekly digest (site)"
    audience = ("site_lead",)
    settings = ("REMINDER_DIGEST_WEEKDAY",)

    def findings(self, session: Session, scan: ScanContext) -> Iterable[Finding]:
        if not _is_digest_day(scan):
            return []
        counts = session.execute(
            select(Reminder.rule, func.count())
            .where(
                Reminder.site_code == scan.site_code,
                Reminder.local_date >= scan.local_date - timedelta(days=7),
                Reminder.local_date < scan.local_date,
                Reminder.rule.not_in(DIGEST_RULES),
            )
            .group_by(Reminder.rule)
            .order_by(Reminder.rule)
        ).all()
        lines = [
            f"- {rule_label(rule)}: {count} ({FOUND}?site={scan.site_code}&rule={rule})"
            for rule, count in counts
        ] or ["- nothing was due"]
        week = iso_week(scan.local_date)
        return [
            Finding(
                "site",
                str(scan.site_code),
                week,
                f"Weekly digest {scan.site_code} {week}: {sum(c for _, c in counts)} reminders",
                "Reminders of the past seven days:\n" + "\n".join(lines),
                f"/api/v1/reminders?rule={self.name}",
            )
        ]


@register
class WeeklyTrialDigest(Rule):
    """Weekly cross-site digest for coordinators (UTC digest day): the reminders found
    at every site in the seven days before, counted by site and rule."""

    name = "weekly_trial_digest"
    label = "Weekly digest (all sites)"
    audience = ("coordinator",)
    settings = ("REMINDER_DIGEST_WEEKDAY",)
    trial_wide = True

    def findings(self, session: Session, scan: ScanContext) -> Iterable[Finding]:
        if not _is_digest_day(scan):
            return []
        counts = session.execute(
            select(Reminder.site_code, Reminder.rule, func.count())
            .where(
                Reminder.site_code.is_not(None),
                Reminder.local_date >= scan.local_date - timedelta(days=7),
                Reminder.local_date < scan.local_date,
                Reminder.rule.not_in(DIGEST_RULES),
            )
            .group_by(Reminder.site_code, Reminder.rule)
            .order_by(Reminder.site_code, Reminder.rule)
        ).all()
        lines = [
            f"- {site} {rule_label(rule)}: {count} ({FOUND}?site={site}&rule={rule})"
            for site, rule, count in counts
        ] or ["- nothing was due at any site"]
        week = iso_week(scan.local_date)
        return [
            Finding(
                "trial",
                "all",
                week,
                f"Weekly digest, all sites, {week}: {sum(c for *_, c in counts)} reminders",
                "Reminders of the past seven days by site:\n" + "\n".join(lines),
                f"/api/v1/reminders?rule={self.name}",
            )
        ]
