from __future__ import annotations

from datetime import date

from sqlalchemy import CheckConstraint, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from trialdm.core.audit import Audited
from trialdm.core.models import (
    Base,
    IdMixin,
    SiteScoped,
    SoftDeletable,
    TimestampMixin,
    Versioned,
)

OUTCOMES = ("eligible", "not_eligible", "declined")


class ScreeningEntry(Audited, SiteScoped, IdMixin, TimestampMixin, SoftDeletable, Versioned, Base):
    """One person assessed for eligibility. No names: a person who goes on to
    enrol is linked to their participant record."""

    __tablename__ = "screening_entries"
    __table_args__ = (
        CheckConstraint("outcome IN ('eligible', 'not_eligible', 'declined')", name="outcome"),
        UniqueConstraint("participant_id"),
    )

    screening_date: Mapped[date] = mapped_column(Date, index=True)
    outcome: Mapped[str] = mapped_column(String(16), index=True)
    # Why not eligible, or why the person declined
    outcome_reason: Mapped[str | None] = mapped_column(Text)
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="RESTRICT")
    )
    notes: Mapped[str | None] = mapped_column(Text)

    @property
    def site(self) -> str:
        return self.site_code
