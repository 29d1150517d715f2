"""Reminders, the inbox, the e-mail outbox and the bookkeeping of scans and sends.

A :class:`Reminder` is created once per dedupe key (rule, subject, period) by a scan;
delivering it writes one :class:`InboxEntry` per recipient and, for recipients who
want mail at once, one :class:`OutboxMessage`. Daily-digest recipients get one
message a day covering their unmailed entries. Every send is a
:class:`DeliveryAttempt`, so a failing SMTP server leaves a trail.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from trialdm.auth.models import User
from trialdm.core.models import Base, IdMixin, SiteScoped, UTCDateTime, utcnow
from trialdm.reminders.texts import reader_language, stored_words

REMINDER_STATUSES = ("pending", "delivered")
MESSAGE_STATUSES = ("pending", "sending", "sent", "kept", "failed")
MAIL_MODES = ("immediate", "daily")
TRIAL_WIDE = "*"  # ScanRun.site_code of the trial-wide (coordinators') scan
# The conditions of the partial indexes, said as literals in the queries they serve
PENDING = "status = 'pending'"
DAILY_UNMAILED = "mail = 'daily' AND mail_message_id IS NULL AND read_at IS NULL"


class _OptionalSite(SiteScoped):
    """Site-scoped, but a trial-wide row (coordinators' digest) has no site: only
    principals holding every site see those, because ``site_code IN (...)`` never
    matches NULL."""

    # False where another index of the table leads to a row before its site does
    _site_index = True
    # False where the site is another row's, which refers to the site (checked there)
    _site_foreign_key = True

    @declared_attr
    def site_code(cls) -> Mapped[str | None]:  # type: ignore[override]
        refers = [ForeignKey("sites.code", ondelete="RESTRICT")] if cls._site_foreign_key else []
        return mapped_column(String(8), *refers, index=cls._site_index, nullable=True)


class Reminder(_OptionalSite, IdMixin, Base):
    """Something due, found by a rule. One row per dedupe key, whatever the number of scans."""

    __audit_exempt__ = "derived from the data by the scans, which are recorded as scan runs"
    __tablename__ = "reminders"
    # Only pending reminders are looked up by status (the claim of a delivery, the
    # dispatcher's check), and a scan inserts its reminders delivered: an index of
    # the pending ones alone, by site as the claim asks, costs those inserts nothing.
    # Its queries say the status as a literal (not a bound value), so that a prepared
    # statement's generic plan still matches it to the index's condition.
    __table_args__ = (
        Index(
            "ix_reminders_pending_site_code",
            "site_code",
            sqlite_where=text(PENDING),
            postgresql_where=text(PENDING),
        ),
    )

    rule: Mapped[str] = mapped_column(String(64), index=True)
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(64))
    # What makes a repeat a new reminder: an event's window, a week, a last-contact date.
    period: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    # Words of rules that give plain text, and of reminders stored before ``message``.
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    # {"title": text, "body": text}: message ids with their values (see
    # trialdm.reminders.texts), put into words in each reader's language when read.
    message: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    link: Mapped[str] = mapped_column(String(300), default="")
    # Recipients resolved when found (user ids), so delivery needs no role lookup.
    recipients: Mapped[list[int]] = mapped_column(JSON, default=list)
    # The site-local day of the scan that found it.
    local_date: Mapped[date] = mapped_column(Date, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def title_in(self, language: str) -> str:
        return stored_words(self.message, "title", self.title, language)

    def body_in(self, language: str) -> str:
        return stored_words(self.message, "body", self.body, language)

    @property
    def shown_title(self) -> str:
        """The title in the language of the page or request being answered."""
        return self.title_in(reader_language())

    @property
    def shown_body(self) -> str:
        return self.body_in(reader_language())


class InboxEntry(_OptionalSite, IdMixin, Base):
    """One reminder in one user's inbox, with that user's read and snooze state."""

    __audit_exempt__ = "a person's view of a reminder (read, snoozed)"
    __tablename__ = "reminder_inbox"
    __table_args__ = (
        UniqueConstraint("reminder_id", "user_id"),
        # a person's inbox within the sites in scope; the user's cascade by its prefix
        Index("ix_reminder_inbox_user_id_site_code", "user_id", "site_code"),
        # the entries the daily digest has yet to mail (it reads no others)
        Index(
            "ix_reminder_inbox_daily_unmailed",
            "user_id",
            sqlite_where=text(DAILY_UNMAILED),
            postgresql_where=text(DAILY_UNMAILED),
        ),
    )
    _site_index = False
    # The entry's site is its reminder's (a reminder's site never changes): the
    # database checks that once per statement (migration d3f5b7a9c1e4) instead of a
    # foreign key to the sites, checked row by row, which the reminder's own makes
    # redundant.
    _site_foreign_key = False

    # no index of its own: the unique key (reminder_id, user_id) begins with it
    reminder_id: Mapped[int] = mapped_column(ForeignKey("reminders.id", ondelete="CASCADE"))
    # A user, checked once per statement and deleted with them (migration e8c0a2b4d6f9)
    # rather than by a foreign key checked row by row: a scan writes tens of thousands.
    user_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    snoozed_until: Mapped[date | None] = mapped_column(Date)
    # immediate or daily: how this entry goes out by mail (the user's choice when delivered)
    mail: Mapped[str] = mapped_column(String(16), default="immediate")
    # not indexed: e-mails are not deleted (a delete would scan the inbox to unlink)
    mail_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("reminder_outbox.id", ondelete="SET NULL")
    )

    reminder: Mapped[Reminder] = relationship(lazy="joined")


# A restore writes the tables parents first, in the order of their foreign keys: the
# users an entry names come before it though no key says so.
InboxEntry.__table__.add_is_dependent_on(User.__table__)


class OutboxMessage(_OptionalSite, IdMixin, Base):
    """An e-mail to send (or, without an SMTP server, to keep here and log)."""

    __audit_exempt__ = "delivery bookkeeping of reminders"
    __tablename__ = "reminder_outbox"
    # no index by site nor by user: failed mail is read by status (then site), and
    # users are not deleted (a delete would scan the outbox to unlink)
    _site_index = False

    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # immediate or daily
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    # Every try ever (numbers the DeliveryAttempt rows) ...
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # ... and failures in a row since the last success or manual retry: the backoff
    # and MAIL_MAX_ATTEMPTS apply to these.
    failures_in_row: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DeliveryAttempt(IdMixin, Base):
    """One try at sending an outbox message, with its outcome."""

    __audit_exempt__ = "delivery bookkeeping of reminders"
    __tablename__ = "reminder_delivery_attempts"
    __table_args__ = (UniqueConstraint("message_id", "attempt"),)

    message_id: Mapped[int] = mapped_column(
        ForeignKey("reminder_outbox.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)


class ScanRun(IdMixin, Base):
    """A scan of one site for one of its local days ('*' for the trial-wide digest):
    the dispatcher queues a scan only while no row exists for that day."""

    __audit_exempt__ = "the record of a scan itself"
    __tablename__ = "reminder_scan_runs"
    __table_args__ = (UniqueConstraint("site_code", "local_date"),)

    site_code: Mapped[str] = mapped_column(String(8))
    local_date: Mapped[date] = mapped_column(Date)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
