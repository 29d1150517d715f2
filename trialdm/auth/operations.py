"""Changes to users, memberships and tokens. They flush; the caller commits."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context
from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from trialdm.auth.models import ApiToken, Membership, User
from trialdm.auth.permissions import ALL_SITE_ROLES, ROLES, SITE_ROLES, Principal
from trialdm.core.audit import record_event
from trialdm.core.errors import N_, Conflict, ErrorCollector, Message, NotFound, ValidationFailed
from trialdm.core.models import utcnow
from trialdm.core.scoping import SKIP_SCOPING
from trialdm.core.versions import OUTSIDE_VERSIONS, check_version
from trialdm.sites.models import Site

TOKEN_PREFIX = "tdm_"
LAST_USED_GRANULARITY = timedelta(minutes=1)
# Outside an app (scripts, imports) the service's defaults apply.
DEFAULT_PASSWORD_MIN_LENGTH = 12
DEFAULT_HASH_MEMORY_KIB = 65536
# zxcvbn's 0-4 guessability score; 3 is "safely unguessable" against online attacks.
MIN_PASSWORD_SCORE = 3


def _setting(name: str, default: int) -> int:
    return int(current_app.config.get(name, default)) if has_app_context() else default


@lru_cache(maxsize=4)
def _hasher_for(memory_kib: int) -> tuple[PasswordHasher, str]:
    """An argon2id hasher and a hash of a non-password, verified against when no such
    account exists so that both paths take the same time."""
    hasher = PasswordHasher(memory_cost=memory_kib)
    return hasher, hasher.hash("not a real password")


def _hasher() -> tuple[PasswordHasher, str]:
    return _hasher_for(_setting("PASSWORD_HASH_MEMORY_KIB", DEFAULT_HASH_MEMORY_KIB))


def hash_password(password: str) -> str:
    return _hasher()[0].hash(password)


def verify_password(user: User | None, password: str) -> bool:
    hasher, dummy = _hasher()
    try:
        return (
            hasher.verify(user.password_hash if user and user.password_hash else dummy, password)
            and user is not None
            and user.active
        )
    except (VerificationError, InvalidHashError):
        return False


def password_problem(password: str, email: str = "") -> str | None:
    """Why a password may not be used, or None: too short, or easy to guess (common
    passwords, names, keyboard patterns, the account's own address)."""
    minimum = _setting("PASSWORD_MIN_LENGTH", DEFAULT_PASSWORD_MIN_LENGTH)
    if len(password) < minimum:
        return Message(N_("Use at least %(min)s characters."), min=minimum)
    hints = [part for part in re.split(r"[@._+-]", email.lower()) if part]
    letters = re.sub(r"[\W_]", "", password.lower())
    local = re.sub(r"[\W_]", "", email.lower().partition("@")[0])
    if len(local) >= 4 and local in letters:
        return N_("Do not use your e-mail address in your password.")
    from zxcvbn import zxcvbn  # its dictionaries are ~11 MB: loaded when a password is set

    if zxcvbn(password[:128], user_inputs=hints)["score"] < MIN_PASSWORD_SCORE:
        return N_("This password is too easy to guess; use a longer phrase of uncommon words.")
    return None


def normalise_email(email: str) -> str:
    return email.strip().lower()


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalise_email(email)))


def _check_grants(session: Session, role: str, sites: list[str], errors: ErrorCollector) -> None:
    if role not in ROLES:
        errors.add(
            "role",
            Message(
                N_("Unknown role '%(role)s'; use one of %(roles)s."),
                role=role,
                roles=", ".join(ROLES),
            ),
        )
        return
    if role in SITE_ROLES and not sites:
        errors.add("sites", Message(N_("A %(role)s needs at least one site."), role=role))
    if role in ALL_SITE_ROLES and sites:
        errors.add("sites", Message(N_("A %(role)s holds every site; give no site."), role=role))
    known = set(session.scalars(select(Site.code)))
    for code in sites:
        if code not in known:
            errors.add("sites", Message(N_("Unknown site '%(code)s'."), code=code))


def create_user(
    session: Session,
    email: str,
    role: str,
    sites: list[str] | None = None,
    password: str | None = None,
    display_name: str | None = None,
    *,
    check_password: bool = True,
) -> User:
    sites = sorted(set(sites or []))
    errors = ErrorCollector()
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        errors.add("email", N_("Not a valid e-mail address."))
    elif get_user_by_email(session, email):
        errors.add("email", N_("A user with this e-mail address exists."))
    if password is not None and check_password:
        problem = password_problem(password, email)
        if problem:
            errors.add("password", problem)
    _check_grants(session, role, sites, errors)
    errors.raise_if_any()
    user = User(
        email=email,
        display_name=display_name,
        password_hash=hash_password(password) if password else None,
    )
    session.add(user)
    for code in sites or [None]:
        user.memberships.append(Membership(role=role, site_code=code))
    session.flush()
    return user


def grant(session: Session, user: User, role: str, sites: list[str]) -> list[Membership]:
    errors = ErrorCollector()
    _check_grants(session, role, sites, errors)
    errors.raise_if_any()
    held = {(m.role, m.site_code) for m in user.memberships}
    added = []
    for code in sites or [None]:
        if (role, code) not in held:
            membership = Membership(role=role, site_code=code)
            user.memberships.append(membership)
            added.append(membership)
    session.flush()
    return added


def get_membership(user: User, membership_id: int) -> Membership:
    membership = next((m for m in user.memberships if m.id == membership_id), None)
    if membership is None:
        raise NotFound(N_("No such membership."))
    return membership


def revoke_membership(
    session: Session, user: User, membership: Membership, version: int | None
) -> None:
    check_version(membership, version)
    user.memberships.remove(membership)
    session.delete(membership)
    session.flush()


def update_user(
    session: Session,
    user: User,
    changes: dict,
    version: int | None,
    *,
    actor_id: int | None = None,
) -> User:
    """Account fields an admin may change: active, display name, locale, mail preference.
    Nobody deactivates their own account, and the last active admin stays."""
    check_version(user, version)
    if changes.get("active") is False and user.active:
        if user.id == actor_id:
            raise Conflict(N_("You cannot deactivate your own account."))
        if _is_admin(user) and _active_admins(session) <= 1:
            raise Conflict(N_("This is the last active admin; make another admin first."))
        end_sessions(user)
    for name in ("active", "display_name", "locale", "mail_preference"):
        if name in changes:
            setattr(user, name, changes[name])
    session.flush()
    return user


def _is_admin(user: User) -> bool:
    return any(m.role == "admin" for m in user.memberships)


def _active_admins(session: Session) -> int:
    return (
        session.scalar(
            select(func.count(func.distinct(User.id)))
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.role == "admin", User.active.is_(True))
        )
        or 0
    )


def end_sessions(user: User) -> None:
    """End every page session of the account (they carry the generation in their id)."""
    user.session_generation = User.session_generation + 1


def set_password(session: Session, user: User, password: str) -> None:
    problem = password_problem(password, user.email)
    if problem:
        raise ValidationFailed.field("password", problem)
    user.password_hash = hash_password(password)
    end_sessions(user)
    session.flush()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: Session, user: User, name: str = "", *, redcap: bool = False
) -> tuple[ApiToken, str]:
    """Return the stored token row and the token itself, which is never stored.

    ``redcap``: a token in REDCap's form, 32 upper-case hex characters (128 random
    bits), which REDCap's clients (PyCap, REDCapR) accept; it works on ``/api/v1``
    as a bearer token too.
    """
    if redcap:
        token = secrets.token_hex(16).upper()
        prefix = token[:8]
    else:
        prefix = secrets.token_hex(4)
        token = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiToken(user=user, name=name, prefix=prefix, token_hash=_token_hash(token))
    session.add(row)
    session.flush()
    record_event(session, "token_created", "api_tokens", row.id, details={"user": user.email})
    return row, token


@lru_cache(maxsize=1)
def _token_statement() -> Select:
    """The token lookup, built once: a statement object reused keeps its cache key,
    so each request skips building the SELECT and keying it for the compiled cache."""
    tokens, users, memberships = ApiToken.__table__, User.__table__, Membership.__table__
    return (
        select(
            tokens.c.id,
            tokens.c.last_used_at,
            users.c.id.label("user_id"),
            users.c.email,
            memberships.c.role,
            memberships.c.site_code,
        )
        .select_from(
            tokens.join(users, users.c.id == tokens.c.user_id).outerjoin(
                memberships, memberships.c.user_id == users.c.id
            )
        )
        .where(
            tokens.c.token_hash == bindparam("token_hash"),
            tokens.c.revoked_at.is_(None),
            users.c.active.is_(True),
        )
    )


def principal_for_token(session: Session, token: str) -> Principal | None:
    """Who sends this bearer token, or None for an unknown, revoked or inactive one.

    This runs before every API request, so it is one plain SELECT of the token,
    its user and the user's memberships (no ORM objects, no site filter: none of
    these tables is site-scoped), and an UPDATE of the last use at most once a minute.
    """
    rows = session.execute(
        _token_statement(),
        {"token_hash": _token_hash(token)},
        execution_options={SKIP_SCOPING: True},
    ).all()
    if not rows:
        return None
    first = rows[0]
    _touch(session, first.id, first.last_used_at)
    return Principal(
        user_id=first.user_id,
        email=first.email,
        grants=tuple((row.role, row.site_code) for row in rows if row.role is not None),
        via="api",
    )


def _touch(session: Session, token_id: int, last_used_at: datetime | None) -> None:
    """Record the token's use, at a granularity that spares a write per request."""
    now = utcnow()
    if last_used_at is not None and last_used_at.tzinfo is None:
        last_used_at = last_used_at.replace(tzinfo=now.tzinfo)  # SQLite drops the zone
    if last_used_at is None or now - last_used_at > LAST_USED_GRANULARITY:
        tokens = ApiToken.__table__
        session.execute(
            update(tokens).where(tokens.c.id == token_id).values(last_used_at=now),
            execution_options={SKIP_SCOPING: True},
        )


def revoke_token(session: Session, user: User, token_id: int, *, any_user: bool = False) -> None:
    row = session.get(ApiToken, token_id)
    if row is None or (row.user_id != user.id and not any_user):
        raise NotFound(N_("No such token."))
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        record_event(session, "token_revoked", "api_tokens", row.id)
    session.flush()


class LoginThrottled(Exception):
    """Too many failed logins of this account: try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


def _aware(value: datetime | None) -> datetime | None:
    now = utcnow()
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=now.tzinfo)  # SQLite drops the zone
    return value


@dataclass(frozen=True)
class Backoff:
    after: int  # failures before the first wait (of 2 seconds)
    max_seconds: int

    def wait(self, failures: int) -> timedelta | None:
        if failures < self.after:
            return None
        return timedelta(seconds=min(2 ** (failures - self.after + 1), self.max_seconds))


def _write_login_bookkeeping(session: Session, user: User, **values: Any) -> int:
    """Write login counters and times beside the ORM: they are not an edit of the
    account, so they leave its version (an administrator's If-Match) alone, and two
    logins of one person at once both count instead of one failing on the version.
    Returns the failed-login count as stored."""
    table = User.__table__
    failures = session.execute(
        update(table)
        .where(table.c.id == user.id)
        .values(**values)
        .returning(table.c.failed_logins, table.c.last_login_at, table.c.login_blocked_until),
        execution_options={OUTSIDE_VERSIONS: True},
    ).one()
    for name, value in zip(
        ("failed_logins", "last_login_at", "login_blocked_until"), failures, strict=True
    ):
        set_committed_value(user, name, value)
    return failures.failed_logins


def login(
    session: Session, email: str, password: str, *, known_device: bool = False
) -> User | None:
    """Check a password login; record success or failure in the audit trail.

    After repeated failures an account answers with a doubling wait (LoginThrottled)
    before it checks any password, so guessing is slow; a browser where this account
    logged in before (``known_device``) is not held up by failures from elsewhere.
    """
    user = get_user_by_email(session, email)
    now = utcnow()
    blocked_until = _aware(user.login_blocked_until) if user else None
    if user is not None and blocked_until and blocked_until > now and not known_device:
        record_event(
            session,
            "login_throttled",
            "users",
            user.id,
            details={"until": blocked_until.isoformat()},
        )
        raise LoginThrottled(max(1, int((blocked_until - now).total_seconds() + 0.999)))
    if not verify_password(user, password):
        if user is not None:
            failures = _write_login_bookkeeping(
                session, user, failed_logins=User.__table__.c.failed_logins + 1
            )
            wait = Backoff(
                _setting("LOGIN_BACKOFF_AFTER", 5), _setting("LOGIN_BACKOFF_MAX_SECONDS", 900)
            ).wait(failures)
            _write_login_bookkeeping(
                session, user, login_blocked_until=now + wait if wait else None
            )
        record_event(
            session,
            "login_failed",
            "users",
            user.id if user else None,
            details={"email": normalise_email(email)[:254]},
        )
        return None
    assert user is not None
    _write_login_bookkeeping(
        session, user, last_login_at=now, failed_logins=0, login_blocked_until=None
    )
    record_event(session, "login", "users", user.id, user_id=user.id, user_email=user.email)
    return user
