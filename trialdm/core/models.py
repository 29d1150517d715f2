"""Declarative base, constraint naming convention and the mixins domains share."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Integer, MetaData, String, Text, func
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.types import TypeDecorator

# Named constraints let Alembic alter and drop them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A moment in time, always a timezone-aware UTC datetime in Python. PostgreSQL
    stores timestamptz; SQLite keeps no zone, so values are stored as UTC and read
    back as UTC (an aware value of another zone would otherwise lose its offset, and
    reads would come back naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if isinstance(value, datetime):
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class IdMixin:
    id: Mapped[int] = mapped_column(Integer, primary_key=True)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, server_default=func.now()
    )


class SiteScoped:
    """Rows owned by one site. Every ORM SELECT of such an entity is filtered to the
    current principal's sites by :mod:`trialdm.core.scoping`; writes check the site
    in the operation with :func:`trialdm.core.scoping.require_site`."""

    @declared_attr
    def site_code(cls) -> Mapped[str]:
        return mapped_column(
            String(8), ForeignKey("sites.code", ondelete="RESTRICT"), index=True, nullable=False
        )


class Versioned:
    """Optimistic locking: every ORM UPDATE or DELETE of the row checks and bumps
    ``version_id``; a stale one raises StaleDataError (412, see
    :mod:`trialdm.core.versions`). Bulk ``update()`` statements bypass the check:
    change versioned rows through the ORM only."""

    version_id: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict:
        return {"version_id_col": cls.__table__.c.version_id}


class SoftDeletable:
    """Records are never removed: deleting sets these, with the reason required."""

    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_reason: Mapped[str | None] = mapped_column(Text)

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None
