"""Changes to users, memberships and tokens. They flush; the caller commits."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from trialdm.auth.models import ApiToken, Membership, User
from trialdm.auth.permissions import ALL_SITE_ROLES, ROLES, SITE_ROLES, Principal
from trialdm.core.audit import record_event
from trialdm.core.errors import ErrorCollector, NotFound, ValidationFailed
from trialdm.core.models import utcnow
from trialdm.core.scoping import SKIP_SCOPING
from trialdm.core.versions import OUTSIDE_VERSIONS, check_version
from trialdm.sites.models import Site

_hasher = PasswordHasher()
# Verified against when no such account exists, so both paths take the same time.
_DUMMY_HASH = _hasher.hash("not a real password")
TOKEN_PREFIX = "tdm_"
LAST_USED_GRANULARITY = timedelta(minutes=1)
MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: User | None, password: str) -> bool:
    try:
        return (
            _hasher.verify(
                user.password_hash if user and user.password_hash else _DUMMY_HASH, password
            )
            and user is not None
            and user.active
        )
    except (VerificationError, InvalidHashError):
        return False


def normalise_email(email: str) -> str:
    return email.strip().lower()


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalise_email(email)))


def _check_grants(session: Session, role: str, sites: list[str], errors: ErrorCollector) -> None:
    if role not in ROLES:
        errors.add("role", f"Unknown role '{role}'; use one of {', '.join(ROLES)}.")
        return
    if role in SITE_ROLES and not sites:
        errors.add("sites", f"A {role} needs at least one site.")
    if role in ALL_SITE_ROLES and sites:
        errors.add("sites", f"A {role} holds every site; give no site.")
    known = set(session.scalars(select(Site.code)))
    for code in sites:
        if code not in known:
            errors.add("sites", f"Unknown site '{code}'.")


def create_user(
    session: Session,
    email: str,
    role: str,
    sites: list[str] | None = None,
    password: str | None = None,
    display_name: str | None = None,
) -> User:
    sites = sorted(set(sites or []))
    errors = ErrorCollector()
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        errors.add("email", "Not a valid e-mail address.")
    elif get_user_by_email(session, email):
        errors.add("email", "A user with this e-mail address exists.")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        errors.add("password", f"Use at least {MIN_PASSWORD_LENGTH} characters.")
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
        raise NotFound("No such membership.")
    return membership


def revoke_membership(
    session: Session, user: User, membership: Membership, version: int | None
) -> None:
    check_version(membership, version)
    user.memberships.remove(membership)
    session.delete(membership)
    session.flush()


def update_user(session: Session, user: User, changes: dict, version: int | None) -> User:
    """Account fields an admin may change: active, display name, locale, mail preference."""
    check_version(user, version)
    for name in ("active", "display_name", "locale", "mail_preference"):
        if name in changes:
            setattr(user, name, changes[name])
    session.flush()
    return user


def set_password(session: Session, user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed.field("password", f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    user.password_hash = hash_password(password)
    session.flush()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, user: User, name: str = "") -> tuple[ApiToken, str]:
    """Return the stored token row and the token itself, which is never stored."""
    secret = secrets.token_urlsafe(32)
    prefix = secrets.token_hex(4)
    token = f"{TOKEN_PREFIX}{prefix}_{secret}"
    row = ApiToken(user=user, name=name, prefix=prefix, token_hash=_token_hash(token))
    session.add(row)
    session.flush()
    record_event(session, "token_created", "api_tokens", row.id, details={"user": user.email})
    return row, token


def principal_for_token(session: Session, token: str) -> Principal | None:
    """Who sends this bearer token, or None for an unknown, revoked or inactive one.

    This runs before every API request, so it is one plain SELECT of the token,
    its user and the user's memberships (no ORM objects, no site filter: none of
    these tables is site-scoped), and an UPDATE of the last use at most once a minute.
    """
    tokens, users, memberships = ApiToken.__table__, User.__table__, Membership.__table__
    rows = session.execute(
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
            tokens.c.token_hash == _token_hash(token),
            tokens.c.revoked_at.is_(None),
            users.c.active.is_(True),
        ),
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
        raise NotFound("No such token.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        record_event(session, "token_revoked", "api_tokens", row.id)
    session.flush()


def login(session: Session, email: str, password: str) -> User | None:
    """Check a password login; record success or failure in the audit trail."""
    user = get_user_by_email(session, email)
    if not verify_password(user, password):
        record_event(
            session,
            "login_failed",
            "users",
            user.id if user else None,
            details={"email": normalise_email(email)[:254]},
        )
        return None
    assert user is not None
    # A login is not an edit of the account: written beside the ORM so that it does
    # not change the version an administrator's If-Match refers to (nor make two
    # logins of one person race each other).
    now = utcnow()
    session.execute(
        update(User.__table__).where(User.__table__.c.id == user.id).values(last_login_at=now),
        execution_options={OUTSIDE_VERSIONS: True},
    )
    set_committed_value(user, "last_login_at", now)
    record_event(session, "login", "users", user.id, user_id=user.id, user_email=user.email)
    return user
