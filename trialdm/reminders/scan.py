"""Scanning a site for what is due: run the rules, store the new reminders, deliver.

Exactly once, under concurrency, rests on the database rather than on locks in
Python: a scan records its run first (on SQLite this takes the write lock, on
PostgreSQL a concurrent scan of the same day waits for it), then inserts the
reminders it found in one ``INSERT ... SELECT ... WHERE NOT EXISTS ... ON CONFLICT
(dedupe_key) DO NOTHING`` (:func:`trialdm.reminders.bulk.insert_new`), so two scans
create each reminder once and a scan finding nothing new writes nothing. A scan of
many sites stores and delivers what all of them found at once: the statements of a
scan do not grow with its sites' reminders. Functions flush and never commit.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from trialdm.auth.models import Membership, User
from trialdm.auth.permissions import SITE_ROLES
from trialdm.core.errors import NotFound
from trialdm.core.models import utcnow
from trialdm.core.runtime import cyclic_collector_paused
from trialdm.reminders.bulk import insert_ignoring_duplicates, insert_new, stored_keys
from trialdm.reminders.delivery import deliver_by_site, fan_out
from trialdm.reminders.models import TRIAL_WIDE, Reminder, ScanRun
from trialdm.reminders.rules import (
    DIGEST_RULES,
    WEEKDAYS,
    Finding,
    ManySites,
    Rule,
    ScanContext,
    Words,
    active_rules,
    resolved,
)
from trialdm.reminders.texts import Text, english
from trialdm.sites.models import Site


def recipients_by_role(
    session: Session, site_code: str | None, many: ManySites | None = None, day: date | None = None
) -> dict[str, list[int]]:
    """Active users by role at ``site_code`` (or coordinators, for the whole trial):
    one query per scan (``many``: one for all the sites of the scan's ``day``)."""

    def stmt() -> Select:
        return (
            select(Membership.role, Membership.user_id)
            .join(User, User.id == Membership.user_id)
            .where(User.active.is_(True))
            .order_by(Membership.user_id)
        )

    if site_code is None:
        rows = session.execute(stmt().where(Membership.role == "coordinator")).all()
    elif many is not None and day is not None:
        # built and run once for all the sites of the day
        rows = many.rows(
            session,
            "recipients",
            day,
            lambda: (
                stmt()
                .add_columns(Membership.site_code)
                .where(
                    Membership.site_code.in_(many.sites_on(day)), Membership.role.in_(SITE_ROLES)
                )
            ),
            "site_code",
            site_code,
        )
    else:
        rows = session.execute(
            stmt().where(Membership.site_code == site_code, Membership.role.in_(SITE_ROLES))
        ).all()
    found: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        found[row.role].append(row.user_id)
    return found


def _audience(rule: Rule, by_role: Mapping[str, list[int]]) -> list[int]:
    return sorted({user_id for role in rule.audience for user_id in by_role.get(role, ())})


def _recipients(
    audience: list[int], finding: Finding, by_role: Mapping[str, list[int]]
) -> list[int]:
    """The rule's audience, plus the finding's own users and roles, minus its exclusions."""
    if not (finding.also_to or finding.also_roles or finding.not_to):
        return audience
    users = set(audience) | set(finding.also_to)
    users |= {user_id for role in finding.also_roles for user_id in by_role.get(role, ())}
    return sorted(users - set(finding.not_to))


def _words(value: Text | str) -> str:
    return value if isinstance(value, str) else english(value)


@dataclass
class PlannedReminder:
    rule: str
    dedupe_key: str
    site_code: str | None
    subject_type: str
    subject_id: str
    period: str
    # a text (message id and values), plain words, or a function giving either
    # (resolved when read or stored)
    title_text: Words
    body_text: Words
    link: str
    recipients: list[int]

    @property
    def title(self) -> str:
        """In English (put into words only when asked: a scan stores the texts)."""
        return _words(resolved(self.title_text))

    @property
    def body(self) -> str:
        return _words(resolved(self.body_text))

    def row(self) -> dict[str, Any]:
        """The values of its row besides those every row of the scan shares. Texts are
        stored as message ids with values (``message``); plain words in title/body."""
        title, body = resolved(self.title_text), resolved(self.body_text)
        texts = {
            part: value
            for part, value in (("title", title), ("body", body))
            if not isinstance(value, str)
        }
        return {
            "rule": self.rule,
            "dedupe_key": self.dedupe_key,
            "subject_type": self.subject_type,
            "subject_id": self.subject_id,
            "period": self.period,
            "title": title if isinstance(title, str) else "",
            "body": body if isinstance(body, str) else "",
            "message": texts or None,
            "link": self.link,
            "recipients": self.recipients,
        }


@dataclass
class ScanResult:
    site_code: str | None
    local_date: date
    # A dry run: everything found. A real scan: what may be new (the rules that can
    # tell in SQL leave out what is stored, but on digest days).
    planned: list[PlannedReminder] = field(default_factory=list)
    created: int = 0
    delivered: int = 0
    dry_run: bool = False

    def lines(self) -> list[str]:
        where = self.site_code or "all sites"
        if not self.dry_run:
            # what a real scan checked is not what it found (the stored ones are left
            # out in SQL): say what it did
            return [f"{where} {self.local_date}: {self.created} new, {self.delivered} delivered"]
        head = f"{where} {self.local_date}: {len(self.planned)} found (dry run, nothing saved)"
        return [head] + [
            f"  {p.dedupe_key}  {p.title}  -> {len(p.recipients)} recipient(s)"
            for p in self.planned
        ]


def plan_reminders(
    session: Session,
    site_code: str | None,
    local_date: date,
    many: ManySites | None = None,
    *,
    new_only: bool = False,
) -> list[PlannedReminder]:
    """Run every active rule for one site and day: what would be reminded, and to whom.
    ``many``: the site is one of a scan of many (:func:`scan_sites`). ``new_only``:
    what is stored already may be left out (by the rules that can tell in SQL; on a
    digest day only what the digests count in SQL)."""
    return plan_days(session, [(site_code, local_date)], many, new_only=new_only)[0]


def plan_days(
    session: Session,
    days: Sequence[tuple[str | None, date]],
    many: ManySites | None = None,
    *,
    new_only: bool = False,
) -> list[list[PlannedReminder]]:
    """:func:`plan_reminders` of each (site, local day) of ``days``: every site's
    digests run after all the sites' other rules, so that in a scan of many sites they
    count what all of them found in one statement."""
    plans = [_SitePlan.start(session, code, day, many, new_only=new_only) for code, day in days]
    for digests in (False, True):
        for plan in plans:
            plan.run(session, digests=digests)
    return [plan.planned for plan in plans]


@dataclass
class _SitePlan:
    """The rules of one site and day, run in two steps (:func:`plan_days`): the
    others, then the digests, which count what the others found."""

    scan: ScanContext
    rules: list[Rule]
    by_role: dict[str, list[int]]
    planned: list[PlannedReminder] = field(default_factory=list)

    @classmethod
    def start(
        cls,
        session: Session,
        site_code: str | None,
        local_date: date,
        many: ManySites | None,
        *,
        new_only: bool,
    ) -> _SitePlan:
        config = current_app.config
        rules = active_rules(config, trial_wide=site_code is None)
        counted = WEEKDAYS[local_date.weekday()] == config["REMINDER_DIGEST_WEEKDAY"] and any(
            rule.name in DIGEST_RULES for rule in rules
        )
        scan = ScanContext(
            site_code=site_code,
            local_date=local_date,
            config=config,
            # one list for the sites of the day: the digests count them in one statement
            planned=[] if many is None else many.planned.setdefault(local_date, []),
            many=many,
            new_only=new_only,
            digest_day=local_date if new_only and counted else None,
        )
        return cls(scan, rules, recipients_by_role(session, site_code, many, local_date))

    def run(self, session: Session, *, digests: bool) -> None:
        """Run the digest rules (``digests``) or the others, adding what they find."""
        scan, by_role = self.scan, self.by_role
        for rule in self.rules:
            if (rule.name in DIGEST_RULES) != digests:
                continue
            audience = _audience(rule, by_role)
            for finding in rule.findings(session, scan):
                key = rule.dedupe_key(finding)
                scan.planned.append((scan.site_code, rule.name, key))
                self.planned.append(
                    PlannedReminder(
                        rule=rule.name,
                        dedupe_key=key,
                        site_code=scan.site_code,
                        subject_type=finding.subject_type,
                        subject_id=str(finding.subject_id),
                        period=finding.period,
                        title_text=finding.title,
                        body_text=finding.body,
                        link=finding.link,
                        recipients=_recipients(audience, finding, by_role),
                    )
                )


def _record_runs(session: Session, days: Sequence[tuple[str | None, date]], now: datetime) -> None:
    # Written before anything is read: on SQLite this takes the write lock first, so
    # a concurrent scan waits for it instead of failing on a stale snapshot; on
    # PostgreSQL a concurrent scan of the same day waits here until this one commits.
    insert_ignoring_duplicates(
        session,
        ScanRun.__table__,
        [
            {"site_code": code or TRIAL_WIDE, "local_date": day, "started_at": now}
            for code, day in days
        ],
        ["site_code", "local_date"],
    )


def scan_site(
    session: Session, site_code: str | None, local_date: date, *, dry_run: bool = False
) -> ScanResult:
    """Find what is due at ``site_code`` on its local day ``local_date`` (``None``: the
    trial-wide rules), create the new reminders and deliver them.

    Idempotent: a second scan of the same day creates and delivers nothing new.
    """
    now = utcnow()
    with cyclic_collector_paused():
        if not dry_run:
            _record_runs(session, [(site_code, local_date)], now)
        _check_sites(session, [site_code])
        result = _plan(session, site_code, local_date, dry_run=dry_run)
        if not dry_run:
            _store(session, [result], now)
    return result


def scan_sites(
    session: Session, days: Sequence[tuple[str, date]], *, dry_run: bool = False
) -> list[ScanResult]:
    """:func:`scan_site` of each (site, local day) of ``days``, in one transaction: each
    statement the rules read (the fidelity and the schedule that several rules share,
    each rule's own) runs once per local day for all the sites of that day, and each
    site's rules read its rows from there (:class:`ManySites`). The new reminders of
    every site go in with one statement per local day, and are delivered with one
    insert each of e-mails and inbox entries: the statements of a scan do not grow
    with its sites nor with what they find. It builds many objects that live until
    it ends, so the cyclic collector is paused meanwhile."""
    with cyclic_collector_paused():
        return _scan_sites(session, days, dry_run=dry_run)


def _scan_sites(
    session: Session, days: Sequence[tuple[str, date]], *, dry_run: bool
) -> list[ScanResult]:
    now = utcnow()
    if not dry_run:
        _record_runs(session, days, now)
    _check_sites(session, [code for code, _ in days])
    many = ManySites()
    for code, day in days:
        many.days.setdefault(day, []).append(code)
    try:
        # a real scan stores only what is new: the rules may leave out what is stored
        planned = plan_days(session, days, many, new_only=not dry_run)
        results = [
            ScanResult(code, day, found, dry_run=dry_run)
            for (code, day), found in zip(days, planned, strict=True)
        ]
        if not dry_run:
            _store(session, results, now)
    except BaseException:
        many.drop(session, failed=True)
        raise
    many.drop(session)
    return results


def _check_sites(session: Session, codes: Sequence[str | None]) -> None:
    wanted = {code for code in codes if code is not None}
    if not wanted:
        return
    known = set(session.scalars(select(Site.code).where(Site.code.in_(sorted(wanted)))))
    for code in codes:
        if code is not None and code not in known:
            raise NotFound(f"No site {code}.")


def _plan(
    session: Session,
    site_code: str | None,
    local_date: date,
    *,
    dry_run: bool,
    many: ManySites | None = None,
) -> ScanResult:
    # a real scan stores only what is new: the rules may leave out what is stored
    planned = plan_reminders(session, site_code, local_date, many, new_only=not dry_run)
    result = ScanResult(site_code, local_date, planned)
    result.dry_run = dry_run
    return result


# New reminders per insert (and delivery): a first day of a registry finds tens of
# thousands; batches bound the memory their rows, texts and e-mails take, at a few
# statements more per batch.
STORE_BATCH = 10_000


def _store(session: Session, results: Sequence[ScanResult], now: datetime) -> None:
    """Insert the new reminders of ``results`` (one statement per local day and batch
    of STORE_BATCH) and deliver them, with whatever was left pending at their sites
    (one claim for all)."""
    # Most of a day's findings are reminders still open from earlier days: their keys
    # are read first, and only the new ones are sent to the insert (which still skips
    # a key a concurrent scan stored meanwhile: ON CONFLICT DO NOTHING).
    stored = stored_keys(
        session,
        Reminder.__table__,
        "dedupe_key",
        [p.dedupe_key for result in results for p in result.planned],
    )
    created: Counter[tuple[str | None, date]] = Counter()
    delivered: Counter[str | None] = Counter()
    for local_date in sorted({result.local_date for result in results}):
        batch: dict[str, dict[str, Any]] = {}
        for result in results:
            if result.local_date != local_date:
                continue
            for p in result.planned:
                if p.dedupe_key in stored or p.dedupe_key in batch:
                    continue
                batch[p.dedupe_key] = {**p.row(), "site_code": result.site_code}
                if len(batch) >= STORE_BATCH:
                    _insert_and_deliver(session, batch, local_date, now, created, delivered)
                    batch = {}
        _insert_and_deliver(session, batch, local_date, now, created, delivered)
    # reminders of these sites left pending (by a scan that stored without delivering)
    delivered.update(
        deliver_by_site(
            session, sorted({result.site_code or TRIAL_WIDE for result in results}), now=now
        )
    )
    for result in results:
        result.created = created[(result.site_code, result.local_date)]
        # a site scanned for two days in one call: its first result delivered them all
        result.delivered = delivered.pop(result.site_code, 0)


def _insert_and_deliver(
    session: Session,
    rows: Mapping[str, dict[str, Any]],
    local_date: date,
    now: datetime,
    created: Counter[tuple[str | None, date]],
    delivered: Counter[str | None],
) -> None:
    """Insert ``rows`` (by dedupe key) as delivered reminders and deliver those inserted.

    Only the transaction whose insert stored a key gets it back (a concurrent scan's
    insert of the same key returns nothing), so it alone delivers it, as a claim of
    pending reminders would guarantee."""
    if not rows:
        return
    inserted = insert_new(
        session,
        Reminder.__table__,
        list(rows.values()),
        ["dedupe_key"],
        constants={
            "local_date": local_date,
            "created_at": now,
            "status": "delivered",
            "delivered_at": now,
        },
        returning=("id", "dedupe_key"),
        skip_stored=False,
    )
    new = [SimpleNamespace(id=row.id, **rows[row.dedupe_key]) for row in inserted]
    for reminder in new:
        created[(reminder.site_code, local_date)] += 1
        delivered[reminder.site_code] += 1
    fan_out(session, new, now)


def local_today(site: Site, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(ZoneInfo(site.timezone)).date()


def sites_to_scan(session: Session, codes: Iterable[str] | None) -> list[Site]:
    sites = list(session.scalars(select(Site).order_by(Site.code)))
    if codes:
        wanted = {code.upper() for code in codes}
        unknown = wanted - {site.code for site in sites}
        if unknown:
            raise NotFound(f"No site {', '.join(sorted(unknown))}.")
        sites = [site for site in sites if site.code in wanted]
    return sites
