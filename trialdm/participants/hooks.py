"""What other domains add to participants without participants importing them: checks
on a change (the contacts domain refuses changes its recorded sessions contradict),
fields derived from their data (intervention fidelity) and list filters on those
fields. Each domain installs its hooks when the app is made (``create_app``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Select
from sqlalchemy.orm import Session

from trialdm.core.errors import ErrorCollector

ChangeCheck = Callable[[Session, Any, Mapping[str, Any], ErrorCollector], None]
Attach = Callable[[Session, list[Any]], None]
ListFilter = Callable[[Select, Any], Select]
_KEY = "trialdm.participant_hooks"


@dataclass
class ParticipantHooks:
    # name -> hook, so that installing twice (several apps in one process) is harmless
    change_checks: dict[str, ChangeCheck] = field(default_factory=dict)
    attach: dict[str, Attach] = field(default_factory=dict)
    # the same fields for participants just created, who have no data elsewhere yet
    attach_created: dict[str, Attach] = field(default_factory=dict)
    filters: dict[str, ListFilter] = field(default_factory=dict)


def participant_hooks(app: Flask | None = None) -> ParticipantHooks:
    extensions = (app or current_app).extensions
    return extensions.setdefault(_KEY, ParticipantHooks())


def check_change(
    session: Session, participant: Any, proposed: Mapping[str, Any], errors: ErrorCollector
) -> None:
    """Run every installed check on ``proposed``, the participant as it would become."""
    for check in participant_hooks().change_checks.values():
        check(session, participant, proposed, errors)


def attach_derived(session: Session, participants: Iterable[Any]) -> None:
    """Set the derived fields (e.g. ``fidelity``) on each participant, one query each."""
    participants = list(participants)
    for attach in participant_hooks().attach.values():
        attach(session, participants)


def attach_derived_created(session: Session, participants: Iterable[Any]) -> None:
    """:func:`attach_derived` for participants just created: the other domains hold
    nothing of theirs yet, so their fields are built without a query."""
    participants = list(participants)
    for attach in participant_hooks().attach_created.values():
        attach(session, participants)


def apply_filters(stmt: Select, filters: Mapping[str, Any]) -> Select:
    """Narrow a participants query by the installed filters given in ``filters``."""
    for name, narrow in participant_hooks().filters.items():
        if filters.get(name):
            stmt = narrow(stmt, filters[name])
    return stmt
