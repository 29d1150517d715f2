"""Audit trail: every insert, update and delete of an audited model, in the same
transaction, with who, when, from where, what changed (old and new) and why.

Operations never call this for data changes: flush listeners see every change of
an :class:`Audited` model. The one write that bypasses the flush (a participant's
creation on PostgreSQL, :mod:`trialdm.core.direct_writes`) writes the row the
listener would, from :func:`insert_event`, in the statement that inserts the record.
Events that are not row changes (logins, downloads) are recorded with
:func:`record_event`. Audit rows are append-only: the
application refuses to update or delete them, and the database has triggers that
refuse it too (see the migration).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from decimal import Decimal
from functools import cache
from typing import Any, ClassVar

from sqlalchemy import JSON, Index, Integer, String, Text, event, insert
from sqlalchemy.orm import (
    Mapped,
    Session,
    attributes,
    class_mapper,
    mapped_column,
    object_mapper,
)

from trialdm.core.errors import ValidationFailed
from trialdm.core.models import Base, SiteScoped, UTCDateTime, utcnow

SOURCES = ("api", "redcap-api", "page", "cli", "task", "import", "system")


@dataclass(frozen=True)
class AuditContext:
    user_id: int | None = None
    user_email: str | None = None
    role: str | None = None
    source: str = "system"
    reason: str | None = None
    request_id: str | None = None


_context: ContextVar[AuditContext] = ContextVar("trialdm_audit_context", default=AuditContext())
# Events of this request that must outlive its rollback (reads of identifying data):
# the request edge writes them again after rolling the request back.
_durable: ContextVar[list[dict[str, Any]] | None] = ContextVar(
    "trialdm_durable_events", default=None
)


def current_audit_context() -> AuditContext:
    return _context.get()


def set_audit_context(ctx: AuditContext):
    return _context.set(ctx)


def reset_audit_context(token) -> None:
    _context.reset(token)


@contextmanager
def audit_context(**changes: Any) -> Iterator[AuditContext]:
    """Amend the audit context for a block (e.g. ``audit_context(reason=...)``)."""
    token = _context.set(replace(_context.get(), **changes))
    try:
        yield _context.get()
    finally:
        _context.reset(token)


class Audited:
    """Mixin: changes to this model are written to the audit trail. A mapped model
    that is not audited says why in ``__audit_exempt__`` (a test walks them all).

    ``__reason_required__``: updates and deletes after first entry need a reason (GCP).
    ``__audit_exclude__``: bookkeeping columns that are not recorded.
    ``__audit_collections__``: relationship name -> attribute of the child that
    represents it, so a list such as diagnoses is recorded as one field.
    """

    __reason_required__: ClassVar[bool] = True
    __audit_exclude__: ClassVar[frozenset[str]] = frozenset(
        {"created_at", "updated_at", "version_id"}
    )
    __audit_collections__: ClassVar[dict[str, str]] = {}


class AuditEvent(SiteScoped, Base):
    """One audited change or event. Never updated or deleted."""

    __audit_exempt__ = "the audit trail itself"

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_entity_entity_id", "entity", "entity_id"),
        # a site's events newest first (the audit list by site)
        Index("ix_audit_events_site_code_id", "site_code", "id"),
        # a site's change stamp of one entity, max(id), in O(log n): the dashboard's
        # cache key of a widget, from the entities it reads
        Index("ix_audit_events_site_code_entity_id", "site_code", "entity", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    user_email: Mapped[str | None] = mapped_column(String(254))
    role: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    # Overrides SiteScoped: events such as logins belong to no site.
    site_code: Mapped[str | None] = mapped_column(String(8))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64))


# Built once: the statement object keeps its cache key, so each flush skips keying it.
_INSERT_EVENTS = insert(AuditEvent.__table__)


def to_json_value(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [to_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json_value(v) for k, v in value.items()}
    return value


def entity_name(obj: Any) -> str:
    return getattr(obj, "__audit_entity__", None) or obj.__tablename__


def entity_id(obj: Any) -> str:
    """The row's primary key as text (``"BU"`` for a site, ``"12"`` for most rows)."""
    key = object_mapper(obj).primary_key_from_instance(obj)
    return "/".join(str(part) for part in key)


def _column_keys(obj: Audited) -> tuple[str, ...]:
    return _column_keys_of(type(obj))


@cache
def _column_keys_of(model: type[Audited]) -> tuple[str, ...]:
    # Per model, once: every audited write asks for them.
    mapper = class_mapper(model)
    return tuple(p.key for p in mapper.column_attrs if p.key not in model.__audit_exclude__)


def _collection_value(items: Any, child_attr: str) -> list[Any]:
    return [to_json_value(getattr(item, child_attr)) for item in items or []]


def _collection_history(obj: Audited, name: str, child_attr: str) -> tuple[list, list] | None:
    hist = attributes.get_history(obj, name, passive=attributes.PASSIVE_NO_INITIALIZE)
    if not hist.has_changes():
        return None
    old = list(hist.unchanged or []) + list(hist.deleted or [])
    old_values = _collection_value(old, child_attr)
    new_values = _collection_value(getattr(obj, name), child_attr)
    if sorted(map(repr, old_values)) == sorted(map(repr, new_values)):
        return None
    return old_values, new_values


def _changes_for_insert(obj: Audited) -> dict[str, list[Any]]:
    changes: dict[str, list[Any]] = {}
    for key in _column_keys(obj):
        value = getattr(obj, key)
        if value is not None:
            changes[key] = [None, to_json_value(value)]
    for name, child_attr in obj.__audit_collections__.items():
        values = _collection_value(getattr(obj, name), child_attr)
        if values:
            changes[name] = [None, values]
    return changes


@dataclass(frozen=True)
class InsertEvent:
    """The audit row of a row about to be inserted by a statement that sets some of
    its values on the server (its id, a drawn number): ``row`` lacks ``entity_id``
    and ``changes``; the JSON text of ``changes`` is ``parts[0]``, the JSON of the
    value of ``server_keys[0]``, ``parts[1]``, and so on. Put together it is the text
    the flush listener writes, character for character (``json.dumps`` of the same
    dict, the keys in the same order)."""

    row: dict[str, Any]
    parts: tuple[str, ...]
    server_keys: tuple[str, ...]


def insert_event(obj: Audited, server_keys: frozenset[str]) -> InsertEvent:
    """The audit row :func:`_after_flush` would write for ``obj`` once inserted, for a
    statement that writes the row and its audit row at once. The ``server_keys`` are
    columns the server fills and never leaves null."""
    ctx = _context.get()
    # Each item of the dict as json.dumps writes it; a server value is left open.
    items: list[str | tuple[str]] = []
    for key in _column_keys(obj):
        if key in server_keys:
            items.append((key,))
            continue
        value = getattr(obj, key)
        if value is not None:
            items.append(f"{json.dumps(key)}: {json.dumps([None, to_json_value(value)])}")
    for name, child_attr in obj.__audit_collections__.items():
        values = _collection_value(getattr(obj, name), child_attr)
        if values:
            items.append(f"{json.dumps(name)}: {json.dumps([None, values])}")
    parts: list[str] = []
    found: list[str] = []
    text = "{"
    for index, item in enumerate(items):
        if index:
            text += ", "
        if isinstance(item, str):
            text += item
            continue
        text += f"{json.dumps(item[0])}: [null, "
        parts.append(text)
        found.append(item[0])
        text = "]"
    parts.append(text + "}")
    return InsertEvent(_event_row(ctx, utcnow(), obj, "insert"), tuple(parts), tuple(found))


def _changes_for_update(obj: Audited) -> dict[str, list[Any]]:
    changes: dict[str, list[Any]] = {}
    for key in _column_keys(obj):
        hist = attributes.get_history(obj, key, passive=attributes.PASSIVE_NO_INITIALIZE)
        if not hist.has_changes():
            continue
        old = hist.deleted[0] if hist.deleted else None
        new = hist.added[0] if hist.added else None
        if old != new:
            changes[key] = [to_json_value(old), to_json_value(new)]
    for name, child_attr in obj.__audit_collections__.items():
        pair = _collection_history(obj, name, child_attr)
        if pair:
            changes[name] = list(pair)
    return changes


def _changes_for_delete(obj: Audited) -> dict[str, list[Any]]:
    return {
        key: [to_json_value(getattr(obj, key)), None]
        for key in _column_keys(obj)
        if getattr(obj, key) is not None
    }


def _pending_updates(session: Session) -> Iterator[tuple[Audited, dict[str, list[Any]]]]:
    for obj in session.dirty:
        if isinstance(obj, Audited) and session.is_modified(obj, include_collections=True):
            changes = _changes_for_update(obj)
            if changes:
                yield obj, changes


def _before_flush(session: Session, flush_context, instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEvent):
            raise RuntimeError("Audit events are append-only.")
    ctx = _context.get()
    if ctx.reason and ctx.reason.strip():
        return
    changed = [obj for obj in session.deleted if isinstance(obj, Audited)]
    changed += [obj for obj, _ in _pending_updates(session)]
    if any(obj.__reason_required__ for obj in changed):
        raise ValidationFailed(
            "A reason is required to change or delete a record after it was entered.",
            errors={"reason": ["Give a reason for this change."]},
        )


def _event_row(ctx: AuditContext, at: datetime, obj: Any, action: str) -> dict[str, Any]:
    """An audit row of a change of ``obj`` but its ``entity_id`` and ``changes``."""
    return {
        "at": at,
        "user_id": ctx.user_id,
        "user_email": ctx.user_email,
        "role": ctx.role,
        "source": ctx.source,
        "action": action,
        "entity": entity_name(obj),
        "site_code": getattr(obj, "site_code", None),
        "reason": ctx.reason,
        "request_id": ctx.request_id,
    }


def _after_flush(session: Session, flush_context) -> None:
    # History and the new/dirty/deleted sets still show the pre-flush state here,
    # and new rows have their ids.
    ctx = _context.get()
    now = utcnow()

    def row(obj: Any, action: str, changes: dict[str, Any]) -> dict[str, Any]:
        return {
            **_event_row(ctx, now, obj, action),
            "entity_id": entity_id(obj),
            "changes": changes,
        }

    rows = [
        row(obj, "insert", _changes_for_insert(obj))
        for obj in session.new
        if isinstance(obj, Audited)
    ]
    for obj, changes in _pending_updates(session):
        deleted = changes.get("deleted_at")
        soft_delete = deleted is not None and deleted[0] is None and deleted[1] is not None
        rows.append(row(obj, "delete" if soft_delete else "update", changes))
    # The unit of work knows every deleted row, including orphans and cascades
    # that never appear in session.deleted.
    for state, (is_delete, list_only) in flush_context.states.items():
        obj = state.obj()
        if is_delete and not list_only and isinstance(obj, Audited):
            rows.append(row(obj, "delete", _changes_for_delete(obj)))
    if rows:
        session.connection().execute(_INSERT_EVENTS, rows)


def record_event(
    session: Session,
    action: str,
    entity: str,
    entity_id: Any = None,
    site_code: str | None = None,
    details: dict[str, Any] | None = None,
    *,
    durable: bool = False,
    **context: Any,
) -> None:
    """Record an event that is not a row change: a login, an export, a download.

    ``durable``: the event stands even if the request ends in an error and is rolled
    back (a read of identifying data happened whatever the request answers)."""
    ctx = replace(_context.get(), **context) if context else _context.get()
    row = {
        "at": utcnow(),
        "user_id": ctx.user_id,
        "user_email": ctx.user_email,
        "role": ctx.role,
        "source": ctx.source,
        "action": action,
        "entity": entity,
        "entity_id": None if entity_id is None else str(entity_id),
        "site_code": site_code,
        "changes": to_json_value(details or {}),
        "reason": ctx.reason,
        "request_id": ctx.request_id,
    }
    session.connection().execute(_INSERT_EVENTS, [row])
    pending = _durable.get()
    if durable and pending is not None:
        pending.append(row)


def collect_durable_events():
    """Start collecting this request's durable events; returns a token to reset."""
    return _durable.set([])


def reset_durable_events(token) -> None:
    _durable.reset(token)


def rewrite_durable_events(session: Session) -> bool:
    """After a rollback: write the durable events again (the caller commits).
    True when there were any."""
    rows = _durable.get()
    if not rows:
        return False
    session.connection().execute(_INSERT_EVENTS, rows)
    _durable.set([])
    return True


def install_audit() -> None:
    """Attach the flush listeners to every Session once (idempotent)."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
        event.listen(Session, "after_flush", _after_flush)
