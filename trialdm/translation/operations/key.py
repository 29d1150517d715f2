"""The pseudonymisation key of a site: the terms replaced in transcripts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trialdm.core.errors import (
    N_,
    Conflict,
    ErrorCollector,
    Message,
    ValidationFailed,
)
from trialdm.core.scoping import require_site
from trialdm.core.versions import check_version
from trialdm.participants.models import Participant
from trialdm.sites.queries import get_site
from trialdm.translation.models import (
    PseudonymKeyEntry,
)


def add_key_entry(session: Session, data: Mapping[str, Any]) -> PseudonymKeyEntry:
    site_code = data["site"]
    if get_site(session, site_code) is None:
        raise ValidationFailed.field(
            "site", Message(N_("Unknown site '%(site)s'."), site=site_code)
        )
    require_site(site_code)
    errors = ErrorCollector()
    term = data["term"].strip()
    if not term:
        errors.add("term", N_("Give the name or identifier to replace."))
    participant_id = data.get("participant_id")
    placeholder = (data.get("placeholder") or "").strip() or None
    if (participant_id is None) == (placeholder is None):
        errors.add("placeholder", N_("Give a participant (study ID) or a placeholder, not both."))
    if participant_id is not None:
        participant = session.get(Participant, participant_id)
        if participant is None or participant.site_code != site_code:
            errors.add(
                "participant_id", Message(N_("No such participant at %(site)s."), site=site_code)
            )
    errors.raise_if_any()
    duplicate = session.scalar(
        select(PseudonymKeyEntry).where(
            PseudonymKeyEntry.site_code == site_code, PseudonymKeyEntry.term == term
        )
    )
    if duplicate is not None:
        raise Conflict(
            N_("The term is already in the key."), errors={"term": [N_("Already listed.")]}
        )
    entry = PseudonymKeyEntry(
        site_code=site_code, term=term, participant_id=participant_id, placeholder=placeholder
    )
    session.add(entry)
    session.flush()
    return entry


def delete_key_entry(session: Session, entry: PseudonymKeyEntry, version: int | None) -> None:
    require_site(entry.site_code, hide=True)
    check_version(entry, version)
    session.delete(entry)
    session.flush()
