"""Making allocation lists, allocating participants, recording randomisation errors.

Operations flush and raise domain errors; they never commit. Allocation is race-safe:
the stratum's counter row is bumped with one UPDATE, whose row lock holds every other
allocation of that stratum until this transaction ends, so two people randomising at
once never get the same list position, and a failed request gives its position back.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from flask import current_app
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from trialdm.core.audit import audit_context, current_audit_context, record_event
from trialdm.core.errors import N_, Conflict, ErrorCollector, Message, ValidationFailed
from trialdm.core.scoping import require_site
from trialdm.participants.models import Participant
from trialdm.randomisation.lists import generate_slots, parse_upload
from trialdm.randomisation.models import (
    AllocationCounter,
    AllocationList,
    AllocationSlot,
    Randomisation,
    RandomisationError,
)
from trialdm.randomisation.scheme import Scheme, load_scheme, scheme_from_json
from trialdm.screening.models import ScreeningEntry
from trialdm.sites.queries import list_sites

INSERT_BATCH = 5000


def service_randomises() -> bool:
    """Whether this trial allocates arms here (else they are typed in)."""
    return current_app.config["RANDOMISATION"] == "service"


def current_scheme() -> Scheme:
    return load_scheme(current_app.config["RANDOMISATION_SCHEME"])


def active_list(session: Session) -> AllocationList | None:
    return session.scalar(select(AllocationList).where(AllocationList.active.is_(True)))


def _retire_active_list(session: Session, reason: str | None) -> None:
    """The active list stops being used. One that participants were allocated from is
    replaced only with a reason (audited), e.g. when a stratum has run out."""
    current = active_list(session)
    if current is None:
        return
    used = session.scalar(
        select(func.count(Randomisation.id))
        .where(Randomisation.list_id == current.id)
        .execution_options(trialdm_skip_site_scoping=True)
    )
    if used and not (reason and reason.strip()):
        raise Conflict(
            Message(
                N_("Participants were allocated from list %(id)s; give a reason to replace it."),
                id=current.id,
            ),
            errors={
                "reason": [
                    Message(
                        N_("%(used)s allocation(s) were made from list %(id)s."),
                        used=used,
                        id=current.id,
                    )
                ]
            },
        )
    why = reason.strip() if reason and reason.strip() else "replaced before any allocation"
    with audit_context(reason=why):
        current.active = False
        session.flush()


def _store_list(
    session: Session,
    scheme: Scheme,
    source: str,
    rows: Iterable[dict[str, Any]],
    seed: str | None = None,
    file_name: str | None = None,
    reason: str | None = None,
) -> AllocationList:
    _retire_active_list(session, reason)
    rows = list(rows)
    sizes: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (row["site_code"], row["stratum"])
        sizes[key] = max(sizes.get(key, 0), row["position"])
    ctx = current_audit_context()
    allocation_list = AllocationList(
        source=source,
        seed=seed,
        scheme=scheme.as_json(),
        slot_count=len(rows),
        active=True,
        file_name=file_name,
        created_by_id=ctx.user_id,
        created_by_email=ctx.user_email,
    )
    session.add(allocation_list)
    session.flush()
    # The list's creation is audited (source, count, scheme); its arms are not.
    for start in range(0, len(rows), INSERT_BATCH):
        session.execute(
            insert(AllocationSlot.__table__),
            [{**row, "list_id": allocation_list.id} for row in rows[start : start + INSERT_BATCH]],
        )
    session.execute(
        insert(AllocationCounter.__table__),
        [
            {
                "list_id": allocation_list.id,
                "site_code": site,
                "stratum": stratum,
                "last_position": 0,
                "size": size,
            }
            for (site, stratum), size in sorted(sizes.items())
        ],
    )
    return allocation_list


def generate_list(
    session: Session, reason: str | None = None, *, seed: str | None = None
) -> AllocationList:
    """A new list for every site and stratum of the scheme, from a fresh secret seed
    (``seed`` only for demo data, which is made the same way each time); ``reason`` is
    needed to replace a list participants were allocated from."""
    scheme = current_scheme()
    sites = [site.code for site in list_sites(session)]
    seed = seed or secrets.token_hex(16)  # 128 bits
    slots = generate_slots(scheme, sites, seed)
    return _store_list(session, scheme, "generated", slots, seed=seed, reason=reason)


def upload_list(
    session: Session, text: str, file_name: str, reason: str | None = None
) -> AllocationList:
    """The statistician's list (CSV: site, stratum, position, arm[, block_number,
    block_size]); all rows or none."""
    scheme = current_scheme()
    sites = {site.code for site in list_sites(session)}
    rows = parse_upload(text, file_name, scheme, sites)
    return _store_list(session, scheme, "uploaded", rows, file_name=file_name, reason=reason)


def _check_can_randomise(
    session: Session, participant: Participant, scheme: Scheme, errors: ErrorCollector
) -> str | None:
    """The participant's stratum if every rule holds; each unmet rule as a field error."""
    if participant.category != "service_user":
        errors.add("category", N_("Only service users are randomised."))
        return None
    if participant.consent_date is None:
        errors.add("consent_date", N_("Consent is not recorded."))
    if participant.enrolment_date is None:
        errors.add("enrolment_date", N_("The participant is not enrolled."))
    if participant.status == "withdrawn":
        errors.add("status", N_("The participant has withdrawn."))
    if participant.arm is not None:
        errors.add("arm", N_("The participant already has an arm (typed in before)."))
    eligible = session.scalar(
        select(ScreeningEntry.id).where(
            ScreeningEntry.participant_id == participant.id,
            ScreeningEntry.outcome == "eligible",
            ScreeningEntry.deleted_at.is_(None),
        )
    )
    if eligible is None:
        errors.add("screening", N_("No eligible screening entry is linked to this participant."))
    stratum, problems = scheme.stratum_of(
        {name: getattr(participant, name, None) for name in _stratum_fields(scheme)}
    )
    for name, message in problems.items():
        errors.add(name, message)
    return stratum


def _stratum_fields(scheme: Scheme) -> list[str]:
    return [stratum.field for stratum in scheme.strata]


def randomise(session: Session, participant: Participant) -> Randomisation:
    """Allocate the participant once, from the next position of their stratum."""
    require_site(participant.site_code, hide=True)
    if not service_randomises():
        raise Conflict(
            N_(
                "This trial allocates arms elsewhere: type the arm into the participant record "
                "(TRIALDM_RANDOMISATION=external)."
            )
        )
    done = session.scalar(
        select(Randomisation).where(Randomisation.participant_id == participant.id)
    )
    if done is not None:
        raise Conflict(
            N_(
                "The participant was randomised already; a mistake is recorded as a "
                "randomisation error, never by randomising again."
            ),
            errors={"participant": [f"Randomised on {done.randomised_at:%Y-%m-%d}."]},
        )
    allocation_list = active_list(session)
    if allocation_list is None:
        raise Conflict(N_("There is no allocation list yet; the trial statistician makes one."))
    scheme = scheme_from_json(allocation_list.scheme)
    errors = ErrorCollector()
    stratum = _check_can_randomise(session, participant, scheme, errors)
    errors.raise_if_any("The participant cannot be randomised.")
    assert stratum is not None

    counters = AllocationCounter.__table__
    position = session.execute(
        update(counters)
        .where(
            counters.c.list_id == allocation_list.id,
            counters.c.site_code == participant.site_code,
            counters.c.stratum == stratum,
            counters.c.last_position < counters.c.size,
        )
        .values(last_position=counters.c.last_position + 1)
        .returning(counters.c.last_position)
    ).scalar()
    if position is None:
        raise Conflict(
            N_(
                "The allocation list has no position left for this participant's stratum; "
                "the trial statistician must provide a new list."
            ),
            errors={"stratum": [f"{participant.site_code} {stratum or '(site only)'}"]},
        )
    slot = session.scalar(
        select(AllocationSlot).where(
            AllocationSlot.list_id == allocation_list.id,
            AllocationSlot.site_code == participant.site_code,
            AllocationSlot.stratum == stratum,
            AllocationSlot.position == position,
        )
    )
    assert slot is not None, "counters are made with their list"
    ctx = current_audit_context()
    allocation = Randomisation(
        site_code=participant.site_code,
        participant_id=participant.id,
        arm=slot.arm,
        stratum=stratum,
        list_id=allocation_list.id,
        slot_id=slot.id,
        position=position,
        randomised_by_id=ctx.user_id,
        randomised_by_email=ctx.user_email,
    )
    session.add(allocation)
    with audit_context(reason="allocated by randomisation"):
        participant.arm = slot.arm
        session.flush()
    return allocation


def record_error(
    session: Session, allocation: Randomisation, data: Mapping[str, Any]
) -> RandomisationError:
    """A mistake in an allocation, kept beside it; the allocation is not changed."""
    require_site(allocation.site_code, hide=True)
    description = (data.get("description") or "").strip()
    if not description:
        raise ValidationFailed.field("description", N_("Describe the mistake."))
    ctx = current_audit_context()
    entry = RandomisationError(
        site_code=allocation.site_code,
        randomisation_id=allocation.id,
        kind=data["kind"],
        description=description,
        recorded_by_id=ctx.user_id,
        recorded_by_email=ctx.user_email,
    )
    session.add(entry)
    session.flush()
    return entry


def record_list_export(session: Session, allocation_list: AllocationList) -> None:
    record_event(
        session,
        "export",
        "AllocationList",
        allocation_list.id,
        details={"slots": allocation_list.slot_count},
        durable=True,
    )
