"""Queries on records, responses and fields, their conversation, and signatures.

A :class:`DataQuery` asks the site about a participant's record, one response, or one
field of either. Its life cycle: ``open`` (by a check, a monitor, a coordinator or a
site lead) -> ``answered`` (by the site) -> ``closed``, or back to ``open`` when the
one who opened it is not satisfied. Every step is a :class:`DataQueryMessage`.

A :class:`Signature` is the site lead's e-signature of one completed response
(``form``) or of every response of a participant at one event (``event``). While it
stands (``unlocked_at`` empty) the responses it covers are locked.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from trialdm.core.audit import Audited
from trialdm.core.models import Base, IdMixin, SiteScoped, TimestampMixin, Versioned, utcnow

QUERY_STATUSES = ("open", "answered", "closed")
QUERY_ORIGINS = ("manual", "check")
QUERY_ACTIONS = ("open", "answer", "close", "reopen")
SIGNATURE_SCOPES = ("form", "event")
# The meaning of a signature, stored with it and shown with it (21 CFR 11.50).
SIGNATURE_MEANING = "Reviewed and approved"


class DataQuery(Audited, SiteScoped, IdMixin, TimestampMixin, Versioned, Base):
    __tablename__ = "data_queries"
    __reason_required__ = False
    __table_args__ = (
        CheckConstraint("status IN ('open', 'answered', 'closed')", name="status"),
        CheckConstraint("origin IN ('manual', 'check')", name="origin"),
        # A check opens one query per rule and target, however often it runs.
        Index(
            "uq_data_queries_check_key",
            "check_key",
            unique=True,
            sqlite_where=text("check_key IS NOT NULL"),
            postgresql_where=text("check_key IS NOT NULL"),
        ),
    )

    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="RESTRICT"), index=True
    )
    # Set when the query is about one response (or one of its fields).
    response_id: Mapped[int | None] = mapped_column(
        ForeignKey("responses.id", ondelete="RESTRICT"), index=True
    )
    # A field of the response, or of the participant's record when no response.
    field: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    origin: Mapped[str] = mapped_column(String(16), default="manual")
    # The rule that opened it and the key that keeps a check from opening it twice.
    rule_name: Mapped[str | None] = mapped_column(String(64), index=True)
    check_key: Mapped[str | None] = mapped_column(String(200))
    question: Mapped[str] = mapped_column(Text)
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    opened_by_name: Mapped[str] = mapped_column(String(254))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    messages: Mapped[list[DataQueryMessage]] = relationship(
        cascade="all, delete-orphan",
        order_by="DataQueryMessage.id",
        lazy="selectin",
        back_populates="query",
    )


class DataQueryMessage(Audited, SiteScoped, IdMixin, Base):
    """One step of a query: who did what, when, with what comment."""

    __tablename__ = "data_query_messages"
    __reason_required__ = False
    __table_args__ = (
        CheckConstraint("action IN ('open', 'answer', 'close', 'reopen')", name="action"),
    )

    query_id: Mapped[int] = mapped_column(
        ForeignKey("data_queries.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    author_name: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    query: Mapped[DataQuery] = relationship(back_populates="messages")


class Signature(Audited, SiteScoped, IdMixin, Versioned, Base):
    """An e-signature: signer's printed name, time and meaning (21 CFR 11.50), bound to
    the records it signs (11.70), given with the password asked again (11.200)."""

    __tablename__ = "signatures"
    __reason_required__ = False
    __table_args__ = (
        CheckConstraint("scope IN ('form', 'event')", name="scope"),
        # At most one standing signature of a response, and of a participant's event.
        Index(
            "uq_signatures_standing_form",
            "response_id",
            unique=True,
            sqlite_where=text("unlocked_at IS NULL AND scope = 'form'"),
            postgresql_where=text("unlocked_at IS NULL AND scope = 'form'"),
        ),
        Index(
            "uq_signatures_standing_event",
            "participant_id",
            "event",
            unique=True,
            sqlite_where=text("unlocked_at IS NULL AND scope = 'event'"),
            postgresql_where=text("unlocked_at IS NULL AND scope = 'event'"),
        ),
    )

    scope: Mapped[str] = mapped_column(String(8))
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="RESTRICT"), index=True
    )
    event: Mapped[str | None] = mapped_column(String(16))
    response_id: Mapped[int | None] = mapped_column(
        ForeignKey("responses.id", ondelete="RESTRICT"), index=True
    )
    # The responses signed and their versions, as they were when signed.
    signed_versions: Mapped[str] = mapped_column(Text)
    meaning: Mapped[str] = mapped_column(String(120))
    signer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    signer_name: Mapped[str] = mapped_column(String(254))
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    unlocked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    unlocked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    unlocked_by_name: Mapped[str | None] = mapped_column(String(254))
    unlock_reason: Mapped[str | None] = mapped_column(Text)

    @property
    def standing(self) -> bool:
        return self.unlocked_at is None
