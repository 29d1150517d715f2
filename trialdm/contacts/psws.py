"""Peer support workers as the contacts domain sees them: participants of category
``psw``; an active, trained one gives sessions (``check_contact_session`` says which
rule a named PSW breaks)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement

from trialdm.participants.models import Participant


def psw_criteria(
    site_code: str | None = None, active: bool | None = None
) -> list[ColumnElement[bool]]:
    """Live (not deleted) PSWs, of ``site_code`` and with ``active`` when given."""
    criteria = [Participant.category == "psw", Participant.deleted_at.is_(None)]
    if site_code is not None:
        criteria.append(Participant.site_code == site_code)
    if active is not None:
        criteria.append(Participant.active.is_(active))
    return criteria


def can_deliver(psw: Any) -> bool:
    """Active and trained: may give a session (on or after the training day)."""
    return bool(psw.active) and psw.training_completed is not None
