"""Locked records: one guard at flush that every write path goes through.

A domain that locks records (quality: signed forms) registers a check with
:func:`register_lock_check`. The check gets the objects a flush would insert, change
or delete and answers why one of them is locked, or None. The ``before_flush``
listener refuses the whole flush with :class:`~trialdm.core.errors.Locked` (423), so
the API, the pages, the imports and the REDCap API cannot change a locked record,
whatever they forget. Operations may call :func:`refuse_if_locked` first, so that a
locked record answers 423 before its input is validated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import event, or_
from sqlalchemy.orm import Session

from trialdm.core.errors import Locked

LockCheck = Callable[[Session, Sequence[Any]], str | None]
# (response id, participant id, event) SQL columns -> a condition true when locked
LockedCondition = Callable[[Any, Any, Any], Any]

_checks: list[LockCheck] = []
_conditions: list[LockedCondition] = []


def register_locked_condition(condition: LockedCondition) -> None:
    """How a set-based read (the record status grid) tells a locked response, without
    the reading domain importing the one that locks."""
    if condition not in _conditions:
        _conditions.append(condition)


def locked_condition(response_id: Any, participant_id: Any, event_name: Any) -> Any | None:
    """SQL true when a registered domain locks that response; None when none locks."""
    found = [c(response_id, participant_id, event_name) for c in _conditions]
    if not found:
        return None
    return found[0] if len(found) == 1 else or_(*found)


def register_lock_check(check: LockCheck) -> None:
    if check not in _checks:
        _checks.append(check)


def refuse_if_locked(session: Session, objects: Sequence[Any]) -> None:
    """Raise :class:`Locked` when a registered check finds one of ``objects`` locked."""
    if not objects:
        return
    with session.no_autoflush:
        for check in _checks:
            message = check(session, objects)
            if message:
                raise Locked(message)


def _changed(session: Session) -> list[Any]:
    dirty = [obj for obj in session.dirty if session.is_modified(obj)]
    return [*session.new, *dirty, *session.deleted]


def _before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    if _checks:
        refuse_if_locked(session, _changed(session))


def install_lock_guard() -> None:
    """Attach the guard to every Session once (idempotent)."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
