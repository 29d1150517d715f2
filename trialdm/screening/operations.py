"""Recording who was screened: validate, flush, raise; never commit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trialdm.core.audit import current_audit_context
from trialdm.core.dates import refuse_future
from trialdm.core.errors import N_, ErrorCollector, Message
from trialdm.core.models import utcnow
from trialdm.core.scoping import require_site
from trialdm.core.versions import check_version
from trialdm.participants.models import Participant
from trialdm.screening.models import ScreeningEntry
from trialdm.sites.queries import get_site, site_today

FIELDS = ("screening_date", "outcome", "outcome_reason", "participant_id", "notes")


def check_entry(
    session: Session,
    site_code: str,
    proposed: Mapping[str, Any],
    errors: ErrorCollector,
    entry_id: int | None = None,
) -> None:
    refuse_future(
        errors, "screening_date", proposed.get("screening_date"), site_today(session, site_code)
    )
    outcome = proposed.get("outcome")
    if (
        outcome in ("not_eligible", "declined")
        and not (proposed.get("outcome_reason") or "").strip()
    ):
        errors.add("outcome_reason", N_("Say why (not eligible, or declined)."))
    participant_id = proposed.get("participant_id")
    if participant_id is None:
        return
    if outcome != "eligible":
        errors.add("participant_id", N_("Only an eligible person can be linked to a participant."))
    person = session.scalar(
        select(Participant).where(
            Participant.id == participant_id, Participant.deleted_at.is_(None)
        )
    )
    if person is None:
        errors.add(
            "participant_id",
            Message(N_("No participant %(participant_id)s."), participant_id=participant_id),
        )
        return
    if person.site_code != site_code:
        errors.add("participant_id", N_("The participant belongs to another site."))
    if person.category != "service_user":
        errors.add("participant_id", N_("Only service users are screened for the trial."))
    taken = session.scalar(
        select(ScreeningEntry.id).where(
            ScreeningEntry.participant_id == participant_id, ScreeningEntry.id != (entry_id or 0)
        )
    )
    if taken is not None:
        errors.add("participant_id", N_("This participant is linked to another screening entry."))


def create_entry(session: Session, data: Mapping[str, Any]) -> ScreeningEntry:
    site_code = data["site"]
    require_site(site_code)
    get_site(session, site_code)
    errors = ErrorCollector()
    check_entry(session, site_code, data, errors)
    errors.raise_if_any()
    entry = ScreeningEntry(site_code=site_code, **{name: data.get(name) for name in FIELDS})
    session.add(entry)
    session.flush()
    return entry


def update_entry(
    session: Session, entry: ScreeningEntry, changes: Mapping[str, Any], version: int | None
) -> ScreeningEntry:
    require_site(entry.site_code, hide=True)
    check_version(entry, version)
    proposed = {name: getattr(entry, name) for name in FIELDS}
    proposed.update({k: v for k, v in changes.items() if k in FIELDS})
    errors = ErrorCollector()
    check_entry(session, entry.site_code, proposed, errors, entry.id)
    errors.raise_if_any()
    for name in FIELDS:
        if getattr(entry, name) != proposed[name]:
            setattr(entry, name, proposed[name])
    session.flush()
    return entry


def delete_entry(session: Session, entry: ScreeningEntry, version: int | None) -> None:
    require_site(entry.site_code, hide=True)
    check_version(entry, version)
    entry.deleted_at = utcnow()
    entry.deleted_reason = current_audit_context().reason
    session.flush()
