"""Reminder operations, by topic: scanning (:mod:`.scan`), delivery to inboxes and
e-mail (:mod:`.delivery`), sending e-mail (:mod:`.outbox`), the dispatcher
(:mod:`.dispatch`) and the inbox (:mod:`.inbox`). Their public functions are
importable from here too. Functions flush and never commit."""

from __future__ import annotations

from trialdm.reminders.bulk import insert_ignoring_duplicates, insert_new
from trialdm.reminders.delivery import (
    build_daily_digests,
    deliver_pending,
    mail_body,
    mail_subject,
)
from trialdm.reminders.dispatch import DispatchReport, dispatch, scan_time
from trialdm.reminders.inbox import MAX_SNOOZE_DAYS, mark_read, snooze
from trialdm.reminders.models import TRIAL_WIDE
from trialdm.reminders.outbox import (
    Claim,
    SendOutcome,
    claim_message,
    due_messages,
    retry_delay,
    retry_failed_message,
    transmit,
)
from trialdm.reminders.scan import (
    PlannedReminder,
    ScanResult,
    local_today,
    plan_reminders,
    recipients_by_role,
    scan_site,
    scan_sites,
    sites_to_scan,
)

__all__ = [
    "MAX_SNOOZE_DAYS",
    "TRIAL_WIDE",
    "Claim",
    "DispatchReport",
    "PlannedReminder",
    "ScanResult",
    "SendOutcome",
    "build_daily_digests",
    "claim_message",
    "deliver_pending",
    "dispatch",
    "due_messages",
    "insert_ignoring_duplicates",
    "insert_new",
    "local_today",
    "mail_body",
    "mail_subject",
    "mark_read",
    "plan_reminders",
    "recipients_by_role",
    "retry_delay",
    "retry_failed_message",
    "scan_site",
    "scan_sites",
    "scan_time",
    "sites_to_scan",
    "snooze",
    "transmit",
]
