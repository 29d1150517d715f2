from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
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
    UTCDateTime,
    Versioned,
)
from trialdm.participants.models import Participant

KINDS = ("focus_group", "interview")
MODES = ("in_person", "online", "phone")


class QualitativeSession(
    Audited, SiteScoped, IdMixin, TimestampMixin, SoftDeletable, Versioned, Base
):
    """A focus-group discussion or an interview (``kind``). Moderator and assistant
    are a user of the system or a free-text role ("local PSW", "research assistant")."""

    __tablename__ = "qualitative_sessions"
    __table_args__ = (
        CheckConstraint("kind IN ('focus_group', 'interview')", name="kind"),
        CheckConstraint("mode IN ('in_person', 'online', 'phone')", name="mode"),
        CheckConstraint("duration_min IS NULL OR duration_min > 0", name="duration_positive"),
    )

    kind: Mapped[str] = mapped_column(String(16), index=True)
    date: Mapped[date] = mapped_column(Date, index=True)
    start_time: Mapped[time | None] = mapped_column(Time)
    duration_min: Mapped[int | None] = mapped_column(Integer)
    location: Mapped[str | None] = mapped_column(String(200))
    mode: Mapped[str] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(16))
    moderator_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    moderator_role: Mapped[str | None] = mapped_column(String(120))
    assistant_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    assistant_role: Mapped[str | None] = mapped_column(String(120))
    # A reference to the topic guide (a material of the translation domain, later a link)
    topic_guide_ref: Mapped[str | None] = mapped_column(String(200))
    consent_recorded: Mapped[bool] = mapped_column(Boolean, default=False)
    field_notes: Mapped[str | None] = mapped_column(Text)
    audio_ref: Mapped[str | None] = mapped_column(String(300))

    members: Mapped[list[QualitativeMember]] = relationship(
        back_populates="session", order_by="QualitativeMember.id", lazy="selectin"
    )

    @property
    def site(self) -> str:
        return self.site_code

    @property
    def current_members(self) -> list[QualitativeMember]:
        return [m for m in self.members if m.removed_at is None]


class QualitativeMember(Audited, SiteScoped, IdMixin, TimestampMixin, Versioned, Base):
    """A participant at one session, with the questionnaire answers given there.
    Removing a member keeps the row (``removed_at``, with the reason in the audit)."""

    __tablename__ = "qualitative_members"
    __table_args__ = (
        UniqueConstraint("session_id", "participant_id"),
        CheckConstraint("age IS NULL OR (age >= 0 AND age <= 120)", name="age_range"),
    )

    session_id: Mapped[int] = mapped_column(
        ForeignKey("qualitative_sessions.id", ondelete="CASCADE"), index=True
    )
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="RESTRICT"), index=True
    )
    # The code the member had in the source (transcripts, imported files): ULM-MHW-01
    member_code: Mapped[str | None] = mapped_column(String(32), index=True)
    gender: Mapped[str | None] = mapped_column(String(16))
    age: Mapped[int | None] = mapped_column(Integer)
    profession: Mapped[str | None] = mapped_column(String(120))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    removed_reason: Mapped[str | None] = mapped_column(Text)

    session: Mapped[QualitativeSession] = relationship(back_populates="members")
    participant: Mapped[Participant] = relationship(lazy="selectin", viewonly=True)

    @property
    def site(self) -> str:
        return self.site_code

    @property
    def study_id(self) -> str:
        return self.participant.study_id
