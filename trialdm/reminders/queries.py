"""Read helpers for the inbox, the reminders found at one's sites and failed mail."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from trialdm.core.errors import NotFound
from trialdm.core.models import utcnow
from trialdm.reminders.models import InboxEntry, OutboxMessage, Reminder

INBOX_SORTABLE = {"created_at": InboxEntry.created_at, "id": InboxEntry.id}
FOUND_SORTABLE = {
    "created_at": Reminder.created_at,
    "local_date": Reminder.local_date,
    "site": Reminder.site_code,
    "rule": Reminder.rule,
}


def inbox_query(user_id: int, filters: Mapping[str, Any]) -> Select:
    """The user's entries; ``state``: unread (default; not snoozed), read, snoozed or all."""
    today = utcnow().date()
    stmt = (
        select(InboxEntry)
        .join(Reminder, Reminder.id == InboxEntry.reminder_id)
        .where(InboxEntry.user_id == user_id)
    )
    awake = or_(InboxEntry.snoozed_until.is_(None), InboxEntry.snoozed_until <= today)
    state = filters.get("state") or "unread"
    if state == "unread":
        stmt = stmt.where(InboxEntry.read_at.is_(None), awake)
    elif state == "read":
        stmt = stmt.where(InboxEntry.read_at.is_not(None))
    elif state == "snoozed":
        stmt = stmt.where(InboxEntry.snoozed_until > today)
    if filters.get("rule"):
        stmt = stmt.where(Reminder.rule == filters["rule"])
    if filters.get("site"):
        stmt = stmt.where(Reminder.site_code == filters["site"])
    return stmt


def get_entry(session: Session, user_id: int, entry_id: int) -> InboxEntry:
    """One of the user's own entries (at a site in scope), or 404."""
    entry = session.scalar(
        select(InboxEntry).where(InboxEntry.id == entry_id, InboxEntry.user_id == user_id)
    )
    if entry is None:
        raise NotFound("No such reminder in your inbox.")
    return entry


def found_query(filters: Mapping[str, Any]) -> Select:
    """Reminders found at the sites in scope (the site filter applies), by rule and site."""
    stmt = select(Reminder)
    for name, column in (("rule", Reminder.rule), ("site", Reminder.site_code)):
        if filters.get(name):
            stmt = stmt.where(column == filters[name])
    if filters.get("since"):
        stmt = stmt.where(Reminder.local_date >= filters["since"])
    return stmt


def failed_mail_query(filters: Mapping[str, Any]) -> Select:
    stmt = select(OutboxMessage).where(OutboxMessage.status == "failed")
    if filters.get("site"):
        stmt = stmt.where(OutboxMessage.site_code == filters["site"])
    return stmt


def get_failed_message(session: Session, message_id: int) -> OutboxMessage:
    message = session.scalar(select(OutboxMessage).where(OutboxMessage.id == message_id))
    if message is None:
        raise NotFound("No such message.")
    return message
