from __future__ import annotations

from datetime import date, time

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from trialdm.core.audit import Audited
from trialdm.core.models import (
    Base,
    IdMixin,
    SiteScoped,
    SoftDeletable,
    TimestampMixin,
    Versioned,
)
from trialdm.participants.vocabulary import FIDELITY_STATUSES as FIDELITY_STATUSES

FORMATS = ("individual", "group")
MODES = ("in_person", "phone", "video", "messaging")


class ContactSession(Audited, SiteScoped, IdMixin, TimestampMixin, SoftDeletable, Versioned, Base):
    """One peer-support session given by one or more PSWs. Each attendance is one
    contact for that service user; notes must not hold names."""

    __tablename__ = "contact_sessions"
    # The attendee and PSW lists are recorded in the audit trail as lists of ids.
    __audit_collections__ = {"attendances": "participant_id", "psw_links": "psw_id"}
    __table_args__ = (
        CheckConstraint("format IN ('individual', 'group')", name="format"),
        CheckConstraint("mode IN ('in_person', 'phone', 'video', 'messaging')", name="mode"),
        CheckConstraint("duration_min IS NULL OR duration_min > 0", name="duration_positive"),
        # A session looked up by id for what fidelity reads of it (date, deleted),
        # from the index alone instead of the row with its notes.
        Index("ix_contact_sessions_id_date_deleted_at", "id", "date", "deleted_at"),
    )

    date: Mapped[date] = mapped_column(Date, index=True)
    start_time: Mapped[time | None] = mapped_column(Time)
    format: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(16))
    duration_min: Mapped[int | None] = mapped_column(Integer)
    place: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)

    attendances: Mapped[list[ContactAttendance]] = relationship(
        back_populates="session",
        cascade="all, delete-orphan",
        order_by="ContactAttendance.participant_id",
        lazy="selectin",
    )
    psw_links: Mapped[list[ContactSessionPsw]] = relationship(
        back_populates="session",
        cascade="all, delete-orphan",
        order_by="ContactSessionPsw.psw_id",
        lazy="selectin",
    )

    @property
    def site(self) -> str:
        return self.site_code

    @property
    def attendee_ids(self) -> list[int]:
        return [a.participant_id for a in self.attendances]

    @property
    def psw_ids(self) -> list[int]:
        return [link.psw_id for link in self.psw_links]


class ContactAttendance(SiteScoped, Base):
    __audit_exempt__ = "audited as the contact session's attendances field"
    """A service user at a session: one contact. Fidelity counts these rows."""

    __tablename__ = "contact_attendances"
    __table_args__ = (
        UniqueConstraint("session_id", "participant_id"),
        # A participant's attendances with their sessions, from the index alone
        # (fidelity counts them per participant).
        Index("ix_contact_attendances_participant_id_session_id", "participant_id", "session_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("contact_sessions.id", ondelete="CASCADE"), index=True
    )
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="RESTRICT"))

    session: Mapped[ContactSession] = relationship(back_populates="attendances")


class ContactSessionPsw(SiteScoped, Base):
    __audit_exempt__ = "audited as the contact session's psw_links field"
    """A PSW who delivered a session."""

    __tablename__ = "contact_session_psws"
    __table_args__ = (UniqueConstraint("session_id", "psw_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("contact_sessions.id", ondelete="CASCADE"), index=True
    )
    psw_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="RESTRICT"), index=True
    )

    session: Mapped[ContactSession] = relationship(back_populates="psw_links")
