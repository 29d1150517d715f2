"""Delivering reminders: inbox entries, e-mails at once and the daily digest e-mails.

Delivery claims pending reminders with one conditional ``UPDATE ... WHERE status =
'pending' RETURNING``; only the transaction whose update matched fans them out to
inboxes and the outbox, in the same transaction and in bulk (a killed worker leaves
nothing half-delivered: the next scan or dispatcher run delivers it). E-mails are
written in each recipient's language, their links open pages under ``BASE_URL``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import (
    Integer,
    String,
    and_,
    case,
    cast,
    false,
    insert,
    literal,
    literal_column,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session

from trialdm.auth.models import User
from trialdm.core.errors import N_
from trialdm.core.models import utcnow
from trialdm.core.tasks import enqueue
from trialdm.reminders.bulk import (
    id_objects,
    insert_ignoring_duplicates,
    insert_new,
    json_array_values,
    json_key,
)
from trialdm.reminders.models import TRIAL_WIDE, InboxEntry, OutboxMessage, Reminder
from trialdm.reminders.texts import language_of, render, stored_words, text

# E-mails per send task: one task per message would be 80,000 broker round trips on
# the first scan of a registry; batches still spread over the workers.
MAIL_BATCH = 200


def _base() -> str:
    return current_app.config["BASE_URL"].rstrip("/")


def mail_subject(site_code: str | None, title: str) -> str:
    return _mail_subject(current_app.config["TRIAL_NAME"], site_code, title)


def _mail_subject(trial: str, site_code: str | None, title: str) -> str:
    return f"[{trial} {site_code}] {title}" if site_code else f"[{trial}] {title}"


def mail_body(language: str, title: str, body: str, link: str) -> str:
    return _mail_body(_base(), _mail_footer(language, _base()), title, body, link)


def _mail_footer(language: str, base: str) -> str:
    return render(
        text(
            N_(
                "You receive this as a member of the study team. Reminders are also in "
                "your inbox: %(url)s"
            ),
            url=f"{base}/reminders",
        ),
        language,
    )


def _mail_body(base: str, footer: str, title: str, body: str, link: str) -> str:
    parts = [title]
    if body:
        parts.append(body)
    if link:
        parts.append(f"{base}{link}")
    parts.append(footer)
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
    sites = None if site_code is None else [site_code]
    return sum(deliver_by_site(session, sites).values())


def deliver_by_site(
    session: Session, sites: Sequence[str] | None = None, *, now: datetime | None = None
) -> dict[str | None, int]:
    """Deliver the pending reminders of ``sites`` (``'*'`` stands for the trial-wide
    ones; None: every site) in a fixed number of statements however many sites and
    reminders: one claim, one insert of the e-mails, one of the inbox entries.
    Returns the reminders delivered by site (None: trial-wide)."""
    now = now or utcnow()
    table = Reminder.__table__
    # a literal, as the partial index of pending reminders says it
    stmt = update(table).where(table.c.status == literal_column("'pending'"))
    if sites is not None:
        codes = [code for code in sites if code != TRIAL_WIDE]
        wanted = [table.c.site_code.in_(codes)] if codes else []
        if TRIAL_WIDE in sites:
            wanted.append(table.c.site_code.is_(None))
        stmt = stmt.where(or_(*wanted) if wanted else false())
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
    fan_out(session, claimed, now)
    return dict(Counter(row.site_code for row in claimed))


def fan_out(session: Session, reminders: Sequence[Any], now: datetime) -> None:
    """Deliver ``reminders`` (each with id, site_code, title, body, message, link and
    recipients) that this transaction claimed, or inserted as delivered: their
    e-mails and inbox entries, in one insert each, and the e-mails queued to send.

    No e-mail or inbox entry of these reminders can exist yet (they are written only
    here, by the transaction that claimed or inserted the reminder), so both inserts
    are plain, without ``ON CONFLICT``: a conflict would be an error, not skipped."""
    if not reminders:
        return
    user_ids = sorted({uid for row in reminders for uid in (row.recipients or [])})
    users = {
        row.id: row
        for row in session.execute(
            select(User.id, User.email, User.mail_preference, User.locale).where(
                User.id.in_(user_ids), User.active.is_(True)
            )
        )
    }
    mails = _immediate_mails(reminders, users)
    inserted = insert_new(
        session,
        OutboxMessage.__table__,
        list(mails.values()),
        ["dedupe_key"],
        # every e-mail of a delivery is sent at once: its kind is said once, not per row
        constants={"kind": "immediate", **_outbox_new(now)},
        returning=("id", "dedupe_key"),
        skip_stored=False,
        conflicts=False,
    )
    mail_ids = {row.dedupe_key: row.id for row in inserted}
    # each reminder's e-mails by recipient: {reminder id: {user id (text): e-mail id}}
    mailed: dict[int, dict[str, int]] = {row.id: {} for row in reminders}
    for (reminder_id, user_id), mail in mails.items():
        mailed[reminder_id][str(user_id)] = mail_ids[mail["dedupe_key"]]
    _fill_inboxes(session, mailed, now)
    ids = sorted(mail_ids.values())
    for start in range(0, len(ids), MAIL_BATCH):
        enqueue(session, "trialdm.reminders.send_mails", ids[start : start + MAIL_BATCH])


def _mail_key(reminder_id: int, user_id: int) -> str:
    return f"reminder:{reminder_id}:user:{user_id}"


def _immediate_mails(
    claimed: Sequence[Any], users: Mapping[int, Any]
) -> dict[tuple[int, int], dict[str, Any]]:
    """The e-mails of the recipients who want them at once, in each one's language
    (each reminder put into words once per language), by reminder and user."""
    base, trial = _base(), current_app.config["TRIAL_NAME"]
    # the users mailed at once, with their language; each language's footer said once
    at_once = {
        uid: (user, language_of(user.locale))
        for uid, user in users.items()
        if user.mail_preference != "daily"
    }
    footers = {language: _mail_footer(language, base) for _, language in at_once.values()}
    messages: dict[tuple[int, int], dict[str, Any]] = {}
    for reminder in claimed:
        said: dict[str, tuple[str, str]] = {}  # language -> (subject, body), said once
        for uid in reminder.recipients or []:
            found = at_once.get(uid)
            if found is None:
                continue
            user, language = found
            if language not in said:
                title = stored_words(reminder.message, "title", reminder.title, language)
                body = stored_words(reminder.message, "body", reminder.body, language)
                said[language] = (
                    _mail_subject(trial, reminder.site_code, title),
                    _mail_body(base, footers[language], title, body, reminder.link),
                )
            subject, body_text = said[language]
            messages[(reminder.id, uid)] = {
                "dedupe_key": _mail_key(reminder.id, uid),
                "user_id": uid,
                "site_code": reminder.site_code,
                "to_address": user.email,
                "subject": subject,
                "body": body_text,
            }
    return messages


def _fill_inboxes(session: Session, mailed: Mapping[int, Mapping[str, int]], now: datetime) -> None:
    """One inbox entry per active recipient of each reminder of ``mailed``, in one
    ``INSERT ... SELECT`` over the reminders' recipients: mailed at once (with the
    e-mail just written: ``mailed`` gives each reminder's by recipient) or in the
    daily digest, as the user chose. The e-mails' ids come from their insert, with
    the reminders' ids, so this reads no e-mail (a join to the outbox by key read all
    of it on PostgreSQL)."""
    reminders = Reminder.__table__
    users = User.__table__
    claimed = id_objects(session, reminders.c.id, mailed)
    member = json_array_values(session, reminders.c.recipients)
    user_id = cast(member.c.value, Integer)
    mode = case((users.c.mail_preference == "daily", "daily"), else_="immediate")
    mail_id = cast(json_key(session, claimed.c.object, cast(users.c.id, String)), Integer)
    chosen = (
        select(
            reminders.c.id,
            users.c.id,
            reminders.c.site_code,
            mode,
            case((mode == "immediate", mail_id), else_=None),
            literal(now, InboxEntry.__table__.c.created_at.type),
        )
        .select_from(reminders)
        .join(claimed, claimed.c.id == reminders.c.id)
        .join(member, true())
        .join(users, and_(users.c.id == user_id, users.c.active.is_(True)))
        .order_by(reminders.c.id, users.c.id)
    )
    columns = ["reminder_id", "user_id", "site_code", "mail", "mail_message_id", "created_at"]
    session.execute(insert(InboxEntry.__table__).from_select(columns, chosen))


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
            # literals, as the partial index of the entries to mail says them
            InboxEntry.mail == literal_column("'daily'"),
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
