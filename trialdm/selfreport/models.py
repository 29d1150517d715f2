from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from trialdm.core.audit import Audited
from trialdm.core.models import Base, IdMixin, SiteScoped, TimestampMixin, UTCDateTime


class SelfReportLink(Audited, SiteScoped, IdMixin, TimestampMixin, Base):
    """A one-time link to one questionnaire of one event of one participant. Only the
    SHA-256 of its random token is stored; the token itself is shown once, at creation."""

    __tablename__ = "self_report_links"
    __reason_required__ = False  # saves, completion and revocation are the link's life
    # The hash opens the questionnaire to whoever holds the token: kept out of the trail.
    __audit_exclude__: ClassVar[frozenset[str]] = Audited.__audit_exclude__ | {"token_hash"}

    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="RESTRICT"), index=True
    )
    instrument_name: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    response_id: Mapped[int | None] = mapped_column(ForeignKey("responses.id", ondelete="RESTRICT"))
    created_by_id: Mapped[int | None] = mapped_column(Integer)
    created_by_email: Mapped[str | None] = mapped_column(String(254))
