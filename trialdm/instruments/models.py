from __future__ import annotations

from datetime import date, datetime
from functools import cached_property
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
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
    utcnow,
)
from trialdm.instruments.definitions import InstrumentDefinition

RESPONSE_STATUSES = ("incomplete", "complete")


class InstrumentVersion(Audited, IdMixin, Base):
    """One stored version of an instrument definition. Never changed once stored:
    responses refer to it, so an old version stays readable exactly as it was."""

    __tablename__ = "instrument_versions"
    __reason_required__ = False
    __table_args__ = (UniqueConstraint("name", "version"),)
    __audit_exclude__ = frozenset({"definition"})

    name: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    # The normalised definition (InstrumentDefinition.to_dict()).
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    checksum: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(200))
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @cached_property
    def parsed(self) -> InstrumentDefinition:
        return InstrumentDefinition.from_dict(self.definition, f"{self.name} v{self.version}")


class InstrumentLabelTranslation(Audited, IdMixin, TimestampMixin, Base):
    """A label of one instrument version in one language, stored in the database
    (finished translations); it takes precedence over the definition file's labels.

    ``key``: ``title``, ``description``, ``fields.<name>.label``, ``.help``,
    ``.section``, ``fields.<name>.choices.<value>``, ``scores.<name>.label``.
    """

    __tablename__ = "instrument_label_translations"
    __reason_required__ = False
    __table_args__ = (UniqueConstraint("instrument_version_id", "language", "key"),)

    instrument_version_id: Mapped[int] = mapped_column(
        ForeignKey("instrument_versions.id", ondelete="CASCADE"), index=True
    )
    language: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)


class InstrumentResponse(
    Audited, SiteScoped, IdMixin, TimestampMixin, SoftDeletable, Versioned, Base
):
    """One filled (or partly filled) instrument: a participant's answers at a schedule
    event (or outside the schedule, with a ``context`` such as ``focus_group:12``).

    Answers are rows of :class:`ResponseAnswer` (queryable in SQL). The reason rule
    is the operation's: edits after completion need one, partial saves do not.
    """

    __tablename__ = "responses"
    __reason_required__ = False
    __table_args__ = (
        CheckConstraint("status IN ('incomplete', 'complete')", name="status"),
        # One live response per participant, event and instrument.
        Index(
            "uq_responses_participant_event_instrument",
            "participant_id",
            "event",
            "instrument_name",
            unique=True,
            sqlite_where=text("event IS NOT NULL AND deleted_at IS NULL"),
            postgresql_where=text("event IS NOT NULL AND deleted_at IS NULL"),
        ),
    )

    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="RESTRICT"), index=True
    )
    event: Mapped[str | None] = mapped_column(String(16), index=True)
    instrument_name: Mapped[str] = mapped_column(String(64), index=True)
    instrument_version_id: Mapped[int] = mapped_column(
        ForeignKey("instrument_versions.id", ondelete="RESTRICT"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="incomplete", index=True)
    collected_on: Mapped[date] = mapped_column(Date, index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A reference to what the response belongs to outside the schedule, e.g.
    # "focus_group:12" or "contact_session:40".
    context: Mapped[str | None] = mapped_column(String(64), index=True)

    instrument_version: Mapped[InstrumentVersion] = relationship(lazy="joined")
    answers: Mapped[list[ResponseAnswer]] = relationship(
        cascade="all, delete-orphan",
        order_by="(ResponseAnswer.field, ResponseAnswer.position)",
        lazy="selectin",
        back_populates="response",
    )


class ResponseAnswer(SiteScoped, Base):
    __audit_exempt__ = "audited on the response, field by field"
    """One answer value: a row per field (a row per chosen option of a multiple
    choice), typed columns so that summaries can aggregate in SQL, e.g.
    ``WHERE field = 'employment' GROUP BY value_text``. Computed scores are rows too
    (``computed``). Changes are audited on the response, field by field."""

    __tablename__ = "response_answers"
    __table_args__ = (
        UniqueConstraint("response_id", "field", "position"),
        Index("ix_response_answers_field_value_text", "field", "value_text"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    response_id: Mapped[int] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), index=True
    )
    field: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)
    # choice codes, text, "yes"/"no"
    value_text: Mapped[str | None] = mapped_column(Text)
    # integer, decimal, scale, score; yes/no as 1/0
    value_number: Mapped[float | None] = mapped_column(Float)
    value_date: Mapped[date | None] = mapped_column(Date)
    missing_code: Mapped[str | None] = mapped_column(String(16))
    computed: Mapped[bool] = mapped_column(Boolean, default=False)

    response: Mapped[InstrumentResponse] = relationship(back_populates="answers")
