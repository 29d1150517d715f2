from __future__ import annotations

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from trialdm.core.audit import Audited
from trialdm.core.models import Base, TimestampMixin


class Site(Audited, TimestampMixin, Base):
    """A trial site. Reference data: every user may read the list of sites. Changes
    come from the site files (``trialdm sites sync``) and are audited with their source."""

    __tablename__ = "sites"
    __reason_required__ = False

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    country: Mapped[str] = mapped_column(String(80))
    city: Mapped[str] = mapped_column(String(80))
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    timezone: Mapped[str] = mapped_column(String(64))

    @property
    def label(self) -> str:
        """As the published tables print it: 'Butabika, Uganda (BU)'."""
        return f"{self.name}, {self.country} ({self.code})"
