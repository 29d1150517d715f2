"""Scanning, delivering and mailing reminders. Functions flush and never commit.

Exactly once, under concurrency, rests on the database rather than on locks in
Python:

- a scan inserts reminders with ``INSERT ... ON CONFLICT (dedupe_key) DO NOTHING``,
  so two scans of the same day create each reminder once;
- delivery claims pending reminders with a conditional ``UPDATE ... WHERE status =
  'pending' RETURNING``; only the transaction whose update matched fans them out to
  inboxes and the outbox, in the same transaction (a killed worker leaves nothing
  half-delivered: the next scan or dispatcher run delivers it);
- an e-mail is claimed the same way (``pending`` -> ``sending``) and the claim is
  committed before the SMTP conversation, so two workers never both send it; a
  claim older than ``MAIL_LEASE_SECONDS`` (its worker died) is taken over.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Table, and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from trialdm.auth.models import Membership, User
from trialdm.auth.permissions import SITE_ROLES
from trialdm.core.errors import NotFound, ValidationFailed
from trialdm.core.models import utcnow
from trialdm.core.tasks import enqueue
from trialdm.reminders import mail
from trialdm.reminders.models import (
    DeliveryAttempt,
    InboxEntry,
    OutboxMessage,
    Reminder,
    ScanRun,
)
from trialdm.reminders.rules import Finding, Rule, ScanContext, active_rules
from trialdm.sites.models import Site

log = logging.getLogger(__name__)

TRIAL_WIDE = "*"  # ScanRun.site_code of the trial-wide (coordinators') scan
MAX_SNOOZE_DAYS = 366


# --- idempotent inserts -------------------------------------------------------------


def insert_ignoring_duplicates(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    conflict_columns: Sequence[str],
    returning: Sequence[str] = (),
) -> list[Any]:
    """Insert ``rows``, skipping those whose ``conflict_columns`` already exist.

    ``ON CONFLICT (...) DO NOTHING`` on PostgreSQL and on SQLite (rather than
    SQLite's ``INSERT OR IGNORE``, which would also swallow NOT NULL and CHECK
    violations). Returns the ``returning`` columns of the rows actually inserted.
    """
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt = postgresql.insert(table).on_conflict_do_nothing(index_elements=conflict_columns)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=conflict_columns)
    else:  # pragma: no cover - the two supported databases are above
        raise RuntimeError(f"No idempotent insert for {dialect}")
    if returning:
        stmt = stmt.returning(*(table.c[name] for name in returning))
        return list(session.execute(stmt, list(rows)).all())
    session.execute(stmt, list(rows))
    return []


# --- recipients -----------------------------------------------------------------


def recipients_by_role(session: Session, site_code: str | None) -> dict[str, list[int]]:
    """Active users by role at ``site_code`` (or coordinators, for the whole trial):
    one query per scan."""
    stmt = (
        select(Membership.role, Membership.user_id)
        .join(User, User.id == Membership.user_id)
        .where(User.active.is_(True))
        .order_by(Membership.user_id)
    )
    if site_code is None:
        stmt = stmt.where(Membership.role == "coordinator")
    else:
        stmt = stmt.where(Membership.site_code == site_code, Membership.role.in_(SITE_ROLES))
    found: dict[str, list[int]] = defaultdict(list)
    for role, user_id in session.execute(stmt):
        found[role].append(user_id)
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


# --- scanning -------------------------------------------------------------------


@dataclass
class PlannedReminder:
    rule: str
    dedupe_key: str
    site_code: str | None
    subject_type: str
    subject_id: str
    period: str
    title: str
    body: str
    link: str
    recipients: list[int]

    def row(self, local_date: date, now: datetime) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "dedupe_key": self.dedupe_key,
            "site_code": self.site_code,
            "subject_type": self.subject_type,
            "subject_id": self.subject_id,
            "period": self.period,
            "title": self.title,
            "body": self.body,
            "link": self.link,
            "recipients": self.recipients,
            "local_date": local_date,
            "created_at": now,
            "status": "pending",
        }


@dataclass
class ScanResult:
    site_code: str | None
    local_date: date
    planned: list[PlannedReminder] = field(default_factory=list)
    created: int = 0
    delivered: int = 0
    dry_run: bool = False

    def lines(self) -> list[str]:
        where = self.site_code or "all sites"
        head = (
            f"{where} {self.local_date}: {len(self.planned)} found"
            + ("" if self.dry_run else f", {self.created} new, {self.delivered} delivered")
            + (" (dry run, nothing saved)" if self.dry_run else "")
        )
        return [head] + [
            f"  {p.dedupe_key}  {p.title}  -> {len(p.recipients)} recipient(s)"
            for p in self.planned
        ]


def plan_reminders(
    session: Session, site_code: str | None, local_date: date
) -> list[PlannedReminder]:
    """Run every active rule for one site and day: what would be reminded, and to whom."""
    config = current_app.config
    scan = ScanContext(site_code=site_code, local_date=local_date, config=config)
    by_role = recipients_by_role(session, site_code)
    planned: list[PlannedReminder] = []
    for rule in active_rules(config, trial_wide=site_code is None):
        audience = _audience(rule, by_role)
        for finding in rule.findings(session, scan):
            scan.planned.append((site_code, rule.name, rule.dedupe_key(finding)))
            recipients = _recipients(audience, finding, by_role)
            planned.append(
                PlannedReminder(
                    rule=rule.name,
                    dedupe_key=rule.dedupe_key(finding),
                    site_code=site_code,
                    subject_type=finding.subject_type,
                    subject_id=str(finding.subject_id),
                    period=finding.period,
                    title=finding.title,
                    body=finding.body,
                    link=finding.link,
                    recipients=recipients,
                )
            )
    return planned


def scan_site(
    session: Session, site_code: str | None, local_date: date, *, dry_run: bool = False
) -> ScanResult:
    """Find what is due at ``site_code`` on its local day ``local_date`` (``None``: the
    trial-wide rules), create the new reminders and deliver them.

    Idempotent: a second scan of the same day creates and delivers nothing new.
    """
    now = utcnow()
    if not dry_run:
        # Written before anything is read: on SQLite this takes the write lock first, so
        # a concurrent scan waits for it instead of failing on a stale snapshot; on
        # PostgreSQL a concurrent scan of the same day waits here until this one commits.
        insert_ignoring_duplicates(
            session,
            ScanRun.__table__,
            [{"site_code": site_code or TRIAL_WIDE, "local_date": local_date, "started_at": now}],
            ["site_code", "local_date"],
        )
    if site_code is not None and session.get(Site, site_code) is None:
        raise NotFound(f"No site {site_code}.")
    result = ScanResult(site_code, local_date, plan_reminders(session, site_code, local_date))
    result.dry_run = dry_run
    if dry_run:
        return result
    created = insert_ignoring_duplicates(
        session,
        Reminder.__table__,
        [p.row(local_date, now) for p in result.planned],
        ["dedupe_key"],
        returning=("id",),
    )
    result.created = len(created)
    result.delivered = deliver_pending(session, site_code=site_code or TRIAL_WIDE)
    return result


def local_today(site: Site, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(ZoneInfo(site.timezone)).date()


# --- delivery: inbox and outbox -------------------------------------------------


def _mail_subject(site_code: str | None, title: str) -> str:
    trial = current_app.config["TRIAL_NAME"]
    return f"[{trial} {site_code}] {title}" if site_code else f"[{trial}] {title}"


def _mail_body(title: str, body: str, link: str) -> str:
    base = current_app.config["BASE_URL"].rstrip("/")
    parts = [title]
    if body:
        parts.append(body)
    if link:
        parts.append(f"{base}{link}")
    parts.append(
        "You receive this as a member of the study team. Reminders are also in your "
        f"inbox: {base}/reminders"
    )
    return "\n\n".join(parts) + "\n"


def deliver_pending(session: Session, *, site_code: str | None = None) -> int:
    """Deliver pending reminders (of one site, ``'*'`` for trial-wide ones, or all).

    Claims them with a conditional UPDATE; only the reminders this transaction
    claimed are fanned out, so two concurrent deliveries never both deliver one.
    """
    now = utcnow()
    table = Reminder.__table__
    stmt = update(table).where(table.c.status == "pending")
    if site_code == TRIAL_WIDE:
        stmt = stmt.where(table.c.site_code.is_(None))
    elif site_code is not None:
        stmt = stmt.where(table.c.site_code == site_code)
    claimed = session.execute(
        stmt.values(status="delivered", delivered_at=now).returning(
            table.c.id,
            table.c.site_code,
            table.c.title,
            table.c.body,
            table.c.link,
            table.c.recipients,
        )
    ).all()
    if not claimed:
        return 0
    user_ids = sorted({uid for row in claimed for uid in (row.recipients or [])})
    users = {
        row.id: row
        for row in session.execute(
            select(User.id, User.email, User.mail_preference).where(
                User.id.in_(user_ids), User.active.is_(True)
            )
        )
    }
    messages: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    for reminder in claimed:
        for uid in reminder.recipients or []:
            user = users.get(uid)
            if user is None:
                continue
            mode = "daily" if user.mail_preference == "daily" else "immediate"
            key = f"reminder:{reminder.id}:user:{uid}"
            entries.append(
                {
                    "reminder_id": reminder.id,
                    "user_id": uid,
                    "site_code": reminder.site_code,
                    "created_at": now,
                    "mail": mode,
                    "mail_message_id": None,
                    "_key": key if mode == "immediate" else None,
                }
            )
            if mode == "immediate":
                messages.append(
                    {
                        "dedupe_key": key,
                        "kind": "immediate",
                        "user_id": uid,
                        "site_code": reminder.site_code,
                        "to_address": user.email,
                        "subject": _mail_subject(reminder.site_code, reminder.title),
                        "body": _mail_body(reminder.title, reminder.body, reminder.link),
                        "status": "pending",
                        "attempts": 0,
                        "failures_in_row": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                )
    inserted = insert_ignoring_duplicates(
        session, OutboxMessage.__table__, messages, ["dedupe_key"], returning=("id", "dedupe_key")
    )
    message_ids = {row.dedupe_key: row.id for row in inserted}
    for entry in entries:
        key = entry.pop("_key")
        entry["mail_message_id"] = message_ids.get(key) if key else None
    insert_ignoring_duplicates(session, InboxEntry.__table__, entries, ["reminder_id", "user_id"])
    for message_id in sorted(message_ids.values()):
        enqueue(session, "trialdm.reminders.send_mail", message_id)
    return len(claimed)


def build_daily_digests(session: Session, now: datetime | None = None) -> list[int]:
    """One e-mail per daily-digest user and UTC day with their unread, unmailed,
    unsnoozed inbox entries. Returns the ids of the new messages (queued to send)."""
    now = now or utcnow()
    today = now.date()
    rows = session.execute(
        select(
            InboxEntry.id,
            InboxEntry.user_id,
            User.email,
            Reminder.site_code,
            Reminder.title,
            Reminder.link,
        )
        .join(Reminder, Reminder.id == InboxEntry.reminder_id)
        .join(User, User.id == InboxEntry.user_id)
        .where(
            InboxEntry.mail == "daily",
            InboxEntry.mail_message_id.is_(None),
            InboxEntry.read_at.is_(None),
            or_(InboxEntry.snoozed_until.is_(None), InboxEntry.snoozed_until <= today),
            User.active.is_(True),
        )
        .order_by(InboxEntry.user_id, Reminder.site_code, InboxEntry.id)
    ).all()
    by_user: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        by_user[row.user_id].append(row)
    base = current_app.config["BASE_URL"].rstrip("/")
    created: list[int] = []
    table = OutboxMessage.__table__
    for user_id, items in by_user.items():
        sites = sorted({item.site_code for item in items if item.site_code})
        lines = [
            f"- {item.site_code or 'all sites'}: {item.title}"
            + (f"\n  {base}{item.link}" if item.link else "")
            for item in items
        ]
        inserted = insert_ignoring_duplicates(
            session,
            table,
            [
                {
                    "dedupe_key": f"daily:{user_id}:{today.isoformat()}",
                    "kind": "daily",
                    "user_id": user_id,
                    "site_code": sites[0] if len(sites) == 1 else None,
                    "to_address": items[0].email,
                    "subject": _mail_subject(None, f"{len(items)} reminder(s) for {today}"),
                    "body": _mail_body(
                        f"Your reminders of {today.isoformat()}", "\n".join(lines), ""
                    ),
                    "status": "pending",
                    "attempts": 0,
                    "failures_in_row": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            ],
            ["dedupe_key"],
            returning=("id",),
        )
        if not inserted:
            continue  # today's digest exists; these entries go in tomorrow's
        message_id = inserted[0].id
        session.execute(
            update(InboxEntry.__table__)
            .where(
                InboxEntry.__table__.c.id.in_([item.id for item in items]),
                InboxEntry.__table__.c.mail_message_id.is_(None),
            )
            .values(mail_message_id=message_id)
        )
        enqueue(session, "trialdm.reminders.send_mail", message_id)
        created.append(message_id)
    return created


# --- sending e-mail -------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    message_id: int
    attempt: int
    failures_in_row: int
    to_address: str
    subject: str
    body: str
    claimed_at: datetime


def claim_message(session: Session, message_id: int, now: datetime | None = None) -> Claim | None:
    """Take an outbox message for sending; None when it is not due or someone else has it.

    The caller must commit the claim before talking to the SMTP server."""
    now = now or utcnow()
    lease = timedelta(seconds=current_app.config["MAIL_LEASE_SECONDS"])
    table = OutboxMessage.__table__
    row = session.execute(
        update(table)
        .where(
            table.c.id == message_id,
            or_(
                and_(table.c.status == "pending", table.c.next_attempt_at <= now),
                and_(table.c.status == "sending", table.c.claimed_at < now - lease),
            ),
        )
        .values(status="sending", claimed_at=now, attempts=table.c.attempts + 1)
        .returning(
            table.c.attempts,
            table.c.failures_in_row,
            table.c.to_address,
            table.c.subject,
            table.c.body,
        )
    ).first()
    if row is None:
        return None
    return Claim(
        message_id, row.attempts, row.failures_in_row, row.to_address, row.subject, row.body, now
    )


@dataclass(frozen=True)
class SendOutcome:
    status: str  # sent, kept, pending (retry later) or failed
    retry_in: float | None = None
    error: str | None = None


def retry_delay(failures: int) -> float:
    """Seconds before the next try after ``failures`` failed tries in a row."""
    return float(current_app.config["MAIL_RETRY_SECONDS"] * 2 ** (failures - 1))


def transmit(session: Session, claim: Claim, now: datetime | None = None) -> SendOutcome:
    """Send a claimed message (or keep it in the outbox without an SMTP server),
    record the attempt and set the message's status."""
    config = current_app.config
    error: str | None = None
    transient = False
    if not config["SMTP_HOST"]:
        log.info(
            "mail kept in outbox (no SMTP_HOST): #%s to %s: %s",
            claim.message_id,
            claim.to_address,
            claim.subject,
        )
        status = "kept"
    else:
        try:
            mail.send(config, claim.to_address, claim.subject, claim.body)
            status = "sent"
        except mail.MailError as exc:
            error, transient = str(exc), exc.transient
            status = "pending"
    finished = now or utcnow()
    retry_in = None
    failures = claim.failures_in_row + 1 if error is not None else 0
    if error is not None:
        if transient and failures < config["MAIL_MAX_ATTEMPTS"]:
            retry_in = retry_delay(failures)
        else:
            status = "failed"
        log.warning(
            "mail #%s try %s failed (%s): %s", claim.message_id, claim.attempt, status, error
        )
    table = OutboxMessage.__table__
    values: dict[str, Any] = {
        "status": status,
        "last_error": error,
        "claimed_at": None,
        "failures_in_row": failures,
    }
    if status in ("sent", "kept"):
        values["sent_at"] = finished
    if retry_in is not None:
        values["next_attempt_at"] = finished + timedelta(seconds=retry_in)
    session.execute(
        update(table)
        .where(table.c.id == claim.message_id, table.c.claimed_at == claim.claimed_at)
        .values(**values)
    )
    session.execute(
        DeliveryAttempt.__table__.insert().values(
            message_id=claim.message_id,
            attempt=claim.attempt,
            started_at=claim.claimed_at,
            finished_at=finished,
            ok=error is None,
            error=error,
        )
    )
    return SendOutcome(status, retry_in, error)


def due_messages(session: Session, now: datetime | None = None) -> list[int]:
    """Messages whose (next) try is due, or whose sender died holding the claim."""
    now = now or utcnow()
    lease = timedelta(seconds=current_app.config["MAIL_LEASE_SECONDS"])
    return list(
        session.scalars(
            select(OutboxMessage.id)
            .where(
                or_(
                    and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now),
                    and_(OutboxMessage.status == "sending", OutboxMessage.claimed_at < now - lease),
                )
            )
            .order_by(OutboxMessage.id)
        )
    )


def retry_failed_message(session: Session, message: OutboxMessage) -> OutboxMessage:
    """Give a failed message a fresh set of tries (a site lead fixed the address or server)."""
    if message.status != "failed":
        raise ValidationFailed.field("status", "Only a failed message can be retried.")
    message.status = "pending"
    message.failures_in_row = 0
    message.next_attempt_at = utcnow()
    session.flush()
    enqueue(session, "trialdm.reminders.send_mail", message.id)
    return message


# --- the dispatcher -------------------------------------------------------------


def scan_time(config: Mapping[str, Any]) -> time:
    hour, minute = (int(part) for part in config["REMINDER_LOCAL_TIME"].split(":"))
    return time(hour, minute)


@dataclass
class DispatchReport:
    scans: list[tuple[str, date]] = field(default_factory=list)
    trial_scan: date | None = None
    deliveries: bool = False
    digests: list[int] = field(default_factory=list)
    mails: list[int] = field(default_factory=list)


def dispatch(session: Session, now: datetime | None = None) -> DispatchReport:
    """What beat runs every REMINDER_BEAT_SECONDS: queue today's scan of every site
    whose local time has passed REMINDER_LOCAL_TIME and whose scan for that local
    day has not run, the trial-wide scan, left-over deliveries, daily digests and
    due e-mails. Queues work by name; everything it queues is idempotent."""
    now = now or utcnow()
    at = scan_time(current_app.config)
    report = DispatchReport()
    due: list[tuple[str, date]] = []
    for code, zone in session.execute(select(Site.code, Site.timezone).order_by(Site.code)):
        local = now.astimezone(ZoneInfo(zone))
        if local.time() >= at:
            due.append((code, local.date()))
    utc_day = now.date()
    trial_due = now.time() >= at
    days = {day for _, day in due} | ({utc_day} if trial_due else set())
    done = (
        {
            (row.site_code, row.local_date)
            for row in session.execute(
                select(ScanRun.site_code, ScanRun.local_date).where(ScanRun.local_date.in_(days))
            )
        }
        if days
        else set()
    )
    for code, day in due:
        if (code, day) not in done:
            enqueue(session, "trialdm.reminders.scan_site", code, day.isoformat())
            report.scans.append((code, day))
    if trial_due and (TRIAL_WIDE, utc_day) not in done:
        enqueue(session, "trialdm.reminders.scan_trial", utc_day.isoformat())
        report.trial_scan = utc_day
    if session.scalar(select(Reminder.id).where(Reminder.status == "pending").limit(1)):
        enqueue(session, "trialdm.reminders.deliver_pending")
        report.deliveries = True
    report.digests = build_daily_digests(session, now)
    report.mails = [m for m in due_messages(session, now) if m not in report.digests]
    for message_id in report.mails:
        enqueue(session, "trialdm.reminders.send_mail", message_id)
    return report


# --- the inbox ------------------------------------------------------------------


def mark_read(session: Session, entry: InboxEntry, read: bool = True) -> InboxEntry:
    entry.read_at = (entry.read_at or utcnow()) if read else None
    session.flush()
    return entry


def snooze(session: Session, entry: InboxEntry, until: date | None) -> InboxEntry:
    """Hide an entry from the unread list until ``until`` (None: wake it now)."""
    if until is not None:
        today = utcnow().date()
        if until <= today:
            raise ValidationFailed.field("until", "Snooze until a day after today.")
        if until > today + timedelta(days=MAX_SNOOZE_DAYS):
            raise ValidationFailed.field("until", f"Snooze at most {MAX_SNOOZE_DAYS} days.")
    entry.snoozed_until = until
    session.flush()
    return entry


def sites_to_scan(session: Session, codes: Iterable[str] | None) -> list[Site]:
    sites = list(session.scalars(select(Site).order_by(Site.code)))
    if codes:
        wanted = {code.upper() for code in codes}
        unknown = wanted - {site.code for site in sites}
        if unknown:
            raise NotFound(f"No site {', '.join(sorted(unknown))}.")
        sites = [site for site in sites if site.code in wanted]
    return sites
