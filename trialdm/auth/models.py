from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from trialdm.core.audit import Audited
from trialdm.core.models import Base, IdMixin, TimestampMixin, UTCDateTime, Versioned, utcnow


class User(Audited, IdMixin, TimestampMixin, Versioned, Base):
    __tablename__ = "users"
    __reason_required__ = False
    # Login bookkeeping is audited as login events, not as field changes.
    __audit_exclude__ = frozenset(
        {
            "created_at",
            "updated_at",
            "version_id",
            "password_hash",
            "last_login_at",
            "failed_logins",
            "login_blocked_until",
            "session_generation",
        }
    )

    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(120))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str] = mapped_column(String(8), default="en")
    # immediate or daily digest, for reminder e-mails
    mail_preference: Mapped[str] = mapped_column(String(16), default="immediate")
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Failed password logins in a row, and until when the account answers with a back-off.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    login_blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Part of every page session's id: raising it (logout, password change,
    # deactivation) ends every session of the account.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    # Flask-Login protocol
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}.{self.session_generation}"


class Membership(Audited, IdMixin, Versioned, Base):
    """A role held by a user, at one site or (coordinator, admin) at every site."""

    __tablename__ = "memberships"
    __reason_required__ = False
    __table_args__ = (UniqueConstraint("user_id", "role", "site_code"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    site_code: Mapped[str | None] = mapped_column(ForeignKey("sites.code"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")


class ApiToken(IdMixin, Base):
    """A bearer token. Only its SHA-256 is kept; the token is shown once."""

    __tablename__ = "api_tokens"
    __audit_exempt__ = "creation and revocation are audit events; only a hash is stored"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(lazy="joined")
