"""Rows inserted by one hand-written statement instead of the unit of work.

A hot write path (a participant's creation on PostgreSQL) may insert a record, its
child rows and its audit row in a single statement. It must leave the session as a
flush would: the same guard first (:func:`before_direct_insert`), and afterwards the
objects persistent and clean, and every listener that follows flushes told of them
(:func:`after_direct_insert`). A domain that watches new rows at flush registers
with :func:`register_insert_listener` too, so that no write path escapes it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session, make_transient_to_detached

from trialdm.core.locking import refuse_if_locked

InsertListener = Callable[[Session, Sequence[Any]], None]

_listeners: list[InsertListener] = []


def register_insert_listener(listener: InsertListener) -> None:
    """``listener(session, objects)`` is called with the objects a direct insert wrote."""
    if listener not in _listeners:
        _listeners.append(listener)


def before_direct_insert(session: Session, objects: Sequence[Any]) -> None:
    """What a flush does before it writes: pending changes go first (a flush would
    have written them with the new rows), then the lock guard sees the new rows."""
    session.flush()
    refuse_if_locked(session, objects)


def after_direct_insert(session: Session, root: Any, objects: Sequence[Any]) -> None:
    """Make the written ``objects`` (``root`` among them; its cascade reaches the others)
    persistent and clean in ``session``, as loaded from the database, and tell the
    listeners. Every column attribute must be set: one left out would be expired and
    read again by a SELECT."""
    for obj in objects:
        make_transient_to_detached(obj)
    session.add(root)
    for listener in _listeners:
        listener(session, objects)
