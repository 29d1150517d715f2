"""Delivering reminders: inbox entries, e-mails at once and the daily digest e-mails.

Delivery claims pending reminders with one conditional ``UPDATE ... WHERE status =
'pending' RETURNING``; only the transaction whose update matched fans them out to
inboxes and the outbox, in the same transaction and in bulk (a killed worker leaves
nothing half-delivered: the next scan or dispatcher run delivers it). E-mails are
written in each recipient's language, their links open pages under ``BASE_URL``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from trialdm.auth.models import User
from trialdm.core.errors import N_
from trialdm.core.models import utcnow
from trialdm.core.tasks import enqueue
from trialdm.reminders.bulk import insert_ignoring_duplicates, insert_new
from trialdm.reminders.models import TRIAL_WIDE, InboxEntry, OutboxMessage, Reminder
from trialdm.reminders.texts import language_of, render, stored_words, text

# E-mails per send task: one task per message would be 80,000 broker round trips on
# the first scan of a registry; batches still spread over the workers.
MAIL_BATCH = 200


def _base() -> str:
    return current_app.config["BASE_URL"].rstrip("/")


def mail_subject(site_code: str | None, title: str) -> str:
    trial = current_app.config["TRIAL_NAME"]
    return f"[{trial} {site_code}] {title}" if site_code else f"[{trial}] {title}"


def mail_body(language: str, title: str, body: str, link: str) -> str:
    base = _base()
    parts = [title]
    if body:
        parts.append(body)
    if link:
        parts.append(f"{base}{link}")
    parts.append(
        render(
            text(
                N_(
                    "You receive this as a member of the study team. Reminders are also in "
                    "your inbox: %(url)s"
                ),
                url=f"{base}/reminders",
            ),
            language,
        )
    )
    return "\n\n".join(parts) + "\n"


def _outbox_new(now: datetime) -> dict[str, Any]:
    """The values every new outbox message starts with."""
    return {
        "status": "pending",
        "attempts": 0,
        "failures_in_row": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


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
            table.c.message,
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
            select(User.id, User.email, User.mail_preference, User.locale).where(
                User.id.in_(user_ids), User.active.is_(True)
            )
        )
    }
    messages: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    for reminder in claimed:
        said: dict[str, tuple[str, str]] = {}  # language -> (subject, body), said once
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
                    "mail": mode,
                    "_key": key if mode == "immediate" else None,
                }
            )
            if mode != "immediate":
                continue
            language = language_of(user.locale)
            if language not in said:
                title = stored_words(reminder.message, "title", reminder.title, language)
                body = stored_words(reminder.message, "body", reminder.body, language)
                said[language] = (
                    mail_subject(reminder.site_code, title),
                    mail_body(language, title, body, reminder.link),
                )
            subject, body_text = said[language]
            messages.append(
                {
                    "dedupe_key": key,
                    "kind": "immediate",
                    "user_id": uid,
                    "site_code": reminder.site_code,
                    "to_address": user.email,
                    "subject": subject,
                    "body": body_text,
                }
            )
    inserted = insert_new(
        session,
        OutboxMessage.__table__,
        messages,
        ["dedupe_key"],
        constants=_outbox_new(now),
        returning=("id", "dedupe_key"),
    )
    message_ids = {row.dedupe_key: row.id for row in inserted}
    for entry in entries:
        key = entry.pop("_key")
        entry["mail_message_id"] = message_ids.get(key) if key else None
    insert_new(
        session,
        InboxEntry.__table__,
        entries,
        ["reminder_id", "user_id"],
        constants={"created_at": now},
    )
    ids = sorted(message_ids.values())
    for start in range(0, len(ids), MAIL_BATCH):
        enqueue(session, "trialdm.reminders.send_mails", ids[start : start + MAIL_BATCH])
    return len(claimed)


def build_daily_digests(session: Session, now: datetime | None = None) -> list[int]:
    """One e-mail per daily-digest user and UTC day with their unread, unmailed,
    unsnoozed inbox entries, in the user's language; it counts the entries it lists.
    Returns the ids of the new messages (queued to send)."""
    now = now or utcnow()
    today = now.date()
    rows = session.execute(
        select(
            InboxEntry.id,
            InboxEntry.user_id,
            User.email,
            User.locale,
            Reminder.site_code,
            Reminder.title,
            Reminder.message,
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
    base = _base()
    created: list[int] = []
    table = OutboxMessage.__table__
    for user_id, items in by_user.items():
        language = language_of(items[0].locale)
        everywhere = render(text(N_("all sites")), language)
        sites = sorted({item.site_code for item in items if item.site_code})
        lines = [
            f"- {item.site_code or everywhere}: "
            + stored_words(item.message, "title", item.title, language)
            + (f"\n  {base}{item.link}" if item.link else "")
            for item in items
        ]
        subject = render(
            text(N_("%(count)s reminders for %(day)s"), count=len(items), day=today), language
        )
        heading = render(text(N_("Your reminders of %(day)s"), day=today), language)
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
                    "subject": mail_subject(None, subject),
                    "body": mail_body(language, heading, "\n".join(lines), ""),
                    **_outbox_new(now),
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
