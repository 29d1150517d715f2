"""The dispatcher beat runs: queue the scans due by each site's local time, left-over
deliveries, daily digests and due e-mails. Everything it queues is idempotent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import literal_column, select
from sqlalchemy.orm import Session

from trialdm.core.models import utcnow
from trialdm.core.tasks import enqueue
from trialdm.reminders.delivery import build_daily_digests
from trialdm.reminders.models import TRIAL_WIDE, Reminder, ScanRun
from trialdm.reminders.outbox import due_messages
from trialdm.sites.models import Site


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
    report.scans = [(code, day) for code, day in due if (code, day) not in done]
    if report.scans:
        # One task for the sites due in this tick: the statements every site's rules
        # read are then computed once for all of them (see scan.scan_sites).
        enqueue(
            session,
            "trialdm.reminders.scan_sites",
            [[code, day.isoformat()] for code, day in report.scans],
        )
    if trial_due and (TRIAL_WIDE, utc_day) not in done:
        enqueue(session, "trialdm.reminders.scan_trial", utc_day.isoformat())
        report.trial_scan = utc_day
    # the status as a literal, as the partial index of pending reminders says it
    pending = Reminder.status == literal_column("'pending'")
    if session.scalar(select(Reminder.id).where(pending).limit(1)):
        enqueue(session, "trialdm.reminders.deliver_pending")
        report.deliveries = True
    report.digests = build_daily_digests(session, now)
    report.mails = [m for m in due_messages(session, now) if m not in report.digests]
    for message_id in report.mails:
        enqueue(session, "trialdm.reminders.send_mail", message_id)
    return report
