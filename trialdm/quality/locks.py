"""Which responses a standing signature locks, and the guard that keeps them locked.

A response is locked while a standing signature covers it: a ``form`` signature of
the response itself, or an ``event`` signature of its participant at its event (which
also refuses new responses at that event). The check is registered with
:mod:`trialdm.core.locking`, whose flush guard every write path passes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Flask
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from trialdm.core.locking import register_lock_check, register_locked_condition
from trialdm.instruments.models import InstrumentResponse, ResponseAnswer
from trialdm.quality.models import Signature
from trialdm.quality.queries import standing_signatures


def locked_message(signature: Signature) -> str:
    what = "This form" if signature.scope == "form" else f"Event {signature.event}"
    return (
        f"{what} was signed by {signature.signer_name} on "
        f"{signature.signed_at:%Y-%m-%d %H:%M} UTC ({signature.meaning}) and is locked; "
        "a site lead or an administrator must unlock it, with a reason, before it can change."
    )


def _responses_touched(objects: Sequence[Any]) -> list[InstrumentResponse]:
    touched: dict[int, InstrumentResponse] = {}
    for obj in objects:
        if isinstance(obj, ResponseAnswer):
            obj = obj.response  # None for an answer removed from its response
        if isinstance(obj, InstrumentResponse):
            touched[id(obj)] = obj
    return list(touched.values())


def check_responses(session: Session, objects: Sequence[Any]) -> str | None:
    responses = _responses_touched(objects)
    if not responses:
        return None
    signatures = standing_signatures(session, responses, every_site=True)
    for signature in signatures.values():
        return locked_message(signature)
    return None


def locked_sql(response_id: Any, participant_id: Any, event_name: Any) -> Any:
    """SQL: a standing signature covers the response (its form, or its event). Two
    lookups, each by an indexed column, rather than one with OR across them."""
    standing = Signature.unlocked_at.is_(None)
    form = select(Signature.id).where(
        Signature.response_id == response_id, Signature.scope == "form", standing
    )
    signed_event = select(Signature.id).where(
        Signature.participant_id == participant_id,
        Signature.event == event_name,
        Signature.scope == "event",
        standing,
    )
    return or_(form.exists(), signed_event.exists())


def init_app(app: Flask) -> None:
    register_lock_check(check_responses)
    register_locked_condition(locked_sql)
