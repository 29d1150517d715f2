"""Allocation lists, their slots, allocations made from them and errors recorded
beside an allocation.

Concealment shapes what is audited: the slots (the arms to come) are not written to
the audit trail, which site leads and coordinators read; a list's creation is audited
without its arms, and an allocation's audit names the participant, arm, stratum, time
and who, but not its list position (which, with the block sizes, would help predict
the next arm).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from trialdm.core.audit import Audited
from trialdm.core.errors import Conflict
from trialdm.core.models import Base, IdMixin, SiteScoped, TimestampMixin, UTCDateTime, utcnow

LIST_SOURCES = ("generated", "uploaded")
ERROR_KINDS = (
    "ineligible_randomised",
    "wrong_stratum",
    "wrong_participant",
    "randomised_twice",
    "other",
)


class AllocationList(Audited, IdMixin, TimestampMixin, Base):
    """One allocation list of the trial; allocations come from the active one."""

    __tablename__ = "allocation_lists"
    __table_args__ = (CheckConstraint("source IN ('generated', 'uploaded')", name="source"),)
    # The seed regenerates every arm: kept for the statistician, never in the audit trail.
    __audit_exclude__: ClassVar[frozenset[str]] = Audited.__audit_exclude__ | {"seed"}

    source: Mapped[str] = mapped_column(String(16))
    seed: Mapped[str | None] = mapped_column(String(64))
    # The scheme the list was made for: ratio, block sizes, strata (as declared then).
    scheme: Mapped[dict[str, Any]] = mapped_column(JSON)
    slot_count: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    file_name: Mapped[str | None] = mapped_column(String(255))
    created_by_id: Mapped[int | None] = mapped_column(Integer)
    created_by_email: Mapped[str | None] = mapped_column(String(254))


class AllocationSlot(SiteScoped, Base):
    """One position of a stratum's sequence: the arm the next participant gets."""

    __audit_exempt__ = "the concealed arms to come; the list's creation is audited"
    __tablename__ = "allocation_slots"
    __table_args__ = (
        UniqueConstraint("list_id", "site_code", "stratum", "position"),
        CheckConstraint("arm IN ('intervention', 'control')", name="arm"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    list_id: Mapped[int] = mapped_column(
        ForeignKey("allocation_lists.id", ondelete="RESTRICT"), index=True
    )
    # "" when the site is the only stratum, else "field=level|field=level" in scheme order
    stratum: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)
    block_number: Mapped[int | None] = mapped_column(Integer)
    block_size: Mapped[int | None] = mapped_column(Integer)
    arm: Mapped[str] = mapped_column(String(16))


class AllocationCounter(SiteScoped, Base):
    """Last position used per list, site and stratum. Allocating bumps it with one
    UPDATE, whose row lock serialises allocations of a stratum until commit."""

    __audit_exempt__ = "allocation bookkeeping; each allocation is audited"
    __tablename__ = "allocation_counters"
    __table_args__ = (UniqueConstraint("list_id", "site_code", "stratum"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    list_id: Mapped[int] = mapped_column(
        ForeignKey("allocation_lists.id", ondelete="RESTRICT"), index=True
    )
    stratum: Mapped[str] = mapped_column(String(200))
    last_position: Mapped[int] = mapped_column(Integer, default=0)
    size: Mapped[int] = mapped_column(Integer)


class Randomisation(Audited, SiteScoped, IdMixin, Base):
    """A participant's allocation. Never changed or deleted: a mistake is recorded as a
    :class:`RandomisationError` beside it."""

    __tablename__ = "randomisations"
    __table_args__ = (
        UniqueConstraint("participant_id"),
        UniqueConstraint("slot_id"),
        CheckConstraint("arm IN ('intervention', 'control')", name="arm"),
    )
    __audit_exclude__: ClassVar[frozenset[str]] = Audited.__audit_exclude__ | {
        "slot_id",
        "position",
    }

    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="RESTRICT"))
    arm: Mapped[str] = mapped_column(String(16), index=True)
    stratum: Mapped[str] = mapped_column(String(200))
    list_id: Mapped[int] = mapped_column(ForeignKey("allocation_lists.id", ondelete="RESTRICT"))
    slot_id: Mapped[int] = mapped_column(ForeignKey("allocation_slots.id", ondelete="RESTRICT"))
    position: Mapped[int] = mapped_column(Integer)
    randomised_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    randomised_by_id: Mapped[int | None] = mapped_column(Integer)
    randomised_by_email: Mapped[str | None] = mapped_column(String(254))


class RandomisationError(Audited, SiteScoped, IdMixin, TimestampMixin, Base):
    """A mistake found in an allocation, kept beside it (the allocation stands)."""

    __tablename__ = "randomisation_errors"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('ineligible_randomised', 'wrong_stratum', 'wrong_participant', "
            "'randomised_twice', 'other')",
            name="kind",
        ),
    )

    randomisation_id: Mapped[int] = mapped_column(
        ForeignKey("randomisations.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(Integer)
    recorded_by_email: Mapped[str | None] = mapped_column(String(254))


@event.listens_for(Randomisation, "before_update")
@event.listens_for(Randomisation, "before_delete")
@event.listens_for(RandomisationError, "before_update")
@event.listens_for(RandomisationError, "before_delete")
def _refuse_change(mapper: Any, connection: Any, target: Any) -> None:
    raise Conflict("An allocation and its recorded errors are never changed or deleted.")
