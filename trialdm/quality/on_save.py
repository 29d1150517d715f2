"""Checks on save: the ``on_save`` rules for the participants a transaction touched,
run before it commits, so a save and the queries it raises are committed together."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import has_app_context
from sqlalchemy import event as orm_event
from sqlalchemy.orm import Session

from trialdm.contacts.models import ContactAttendance
from trialdm.core.direct_writes import register_insert_listener
from trialdm.instruments.models import InstrumentResponse
from trialdm.participants.models import Participant
from trialdm.quality.runs import (
    current_rules,
    find_failures,
    needs_other_rows,
    open_queries_for,
    reads_other_rows,
    record_failures_of,
)

_TOUCHED = "trialdm_quality_touched_participants"
# Participants first inserted by this transaction, and those whose responses or
# contacts it wrote: a new participant without either has no other rows yet.
_NEW = "trialdm_quality_new_participants"
_WITH_ROWS = "trialdm_quality_participants_with_rows"
_KEYS = (_TOUCHED, _NEW, _WITH_ROWS)


def _note_saved(session: Session, flush_context: Any) -> None:
    """After a flush: the participants whose record, responses or contacts changed."""
    touched: set[int] = session.info.setdefault(_TOUCHED, set())
    # The new participants themselves, held until commit (the session's identity map
    # holds them weakly: a request may have let go of them by then).
    new: dict[int, Participant] = session.info.setdefault(_NEW, {})
    with_rows: set[int] = session.info.setdefault(_WITH_ROWS, set())
    for obj in session.new:
        if isinstance(obj, Participant) and obj.id is not None:
            new[obj.id] = obj
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, Participant) and obj.id is not None:
            touched.add(obj.id)
        elif isinstance(obj, (InstrumentResponse, ContactAttendance)):
            touched.add(obj.participant_id)
            with_rows.add(obj.participant_id)


def _note_inserted(session: Session, objects: Sequence[Any]) -> None:
    """The same for rows inserted by one statement outside the flush
    (:mod:`trialdm.core.direct_writes`)."""
    touched: set[int] = session.info.setdefault(_TOUCHED, set())
    new: dict[int, Participant] = session.info.setdefault(_NEW, {})
    with_rows: set[int] = session.info.setdefault(_WITH_ROWS, set())
    for obj in objects:
        if isinstance(obj, Participant):
            new[obj.id] = obj
            touched.add(obj.id)
        elif isinstance(obj, (InstrumentResponse, ContactAttendance)):
            touched.add(obj.participant_id)
            with_rows.add(obj.participant_id)


def _check_saved(session: Session) -> None:
    """Before commit: the ``on_save`` rules for the participants this transaction
    touched, in the same transaction (the rules over the record in one statement, one
    statement for each other rule), so a save and the queries it raises are committed
    together. Rules that need responses or contacts to fail are skipped when every
    participant touched is new and has none (a participant just created)."""
    if session.new or session.dirty or session.deleted:
        session.flush()  # commit flushes after this hook: note what it would flush now
    touched = session.info.pop(_TOUCHED, None)
    new = session.info.pop(_NEW, {})
    with_rows = session.info.pop(_WITH_ROWS, set())
    if not touched or not has_app_context():
        return
    rules = current_rules(on_save=True)
    if touched <= new.keys() and not with_rows:
        rules = tuple(r for r in rules if not needs_other_rows(r))
        if not any(reads_other_rows(r) for r in rules):
            # Participants just created are in memory as written: the rules over the
            # record need no statement for them.
            open_queries_for(session, record_failures_of(rules, list(new.values())))
            session.flush()
            rules = ()
            for key in _KEYS:
                session.info.pop(key, None)
    if not rules:
        return
    failures = find_failures(session, rules, participant_ids=sorted(touched))
    open_queries_for(session, failures)
    session.flush()
    for key in _KEYS:
        session.info.pop(key, None)


def _forget(session: Session, *args: Any) -> None:
    for key in _KEYS:
        session.info.pop(key, None)


def install_on_save_checks() -> None:
    if not orm_event.contains(Session, "after_flush", _note_saved):
        orm_event.listen(Session, "after_flush", _note_saved)
        orm_event.listen(Session, "before_commit", _check_saved)
        orm_event.listen(Session, "after_rollback", _forget)
    register_insert_listener(_note_inserted)
