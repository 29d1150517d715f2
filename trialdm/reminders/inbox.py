"""A person's inbox: marking a reminder read or unread and snoozing it."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session

from trialdm.core.errors import ValidationFailed
from trialdm.core.models import utcnow
from trialdm.reminders.models import InboxEntry

MAX_SNOOZE_DAYS = 366


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
