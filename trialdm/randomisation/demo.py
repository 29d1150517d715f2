"""Demo data of randomisation: where the service randomises, an allocation list made
before the first enrolment, and demo service users enrolled the way a site does it
(eligible in the screening log, then randomised) instead of having an arm typed."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from trialdm.core.audit import audit_context
from trialdm.participants.models import Participant
from trialdm.participants.operations import create_participant, update_participant
from trialdm.randomisation.models import Randomisation
from trialdm.randomisation.operations import generate_list, randomise, service_randomises
from trialdm.screening.operations import create_entry


def demo_allocation_list(session: Session, rng: random.Random) -> str:
    if not service_randomises():
        return "arms are allocated elsewhere (TRIALDM_RANDOMISATION=external)"
    # from the demo's own random numbers, so that a demo trial is the same each time
    made = generate_list(session, seed=f"{rng.getrandbits(128):032x}")
    return f"allocation list {made.id} with {made.slot_count} positions"


def enrol_demo_participant(session: Session, data: Mapping[str, Any]) -> Participant:
    """Create an enrolled demo service user. Where the service randomises, the typed
    arm is dropped: the person is screened eligible and randomised."""
    if not service_randomises():
        return create_participant(session, data)
    later = ("status", "withdrawal_date", "withdrawal_reason")
    participant = create_participant(
        session, {k: v for k, v in data.items() if k != "arm" and k not in later}
    )
    create_entry(
        session,
        {
            "site": participant.site_code,
            "screening_date": participant.consent_date or participant.enrolment_date,
            "outcome": "eligible",
            "participant_id": participant.id,
        },
    )
    allocation = randomise(session, participant)
    # Demo people were enrolled in the past: date the allocation on that day, as a site
    # randomising at enrolment would have, so that their intervention windows (which
    # open at allocation) look like a running trial's. A Core UPDATE, since the ORM
    # refuses any change to an allocation.
    table = Randomisation.__table__
    session.execute(
        update(table)
        .where(table.c.id == allocation.id)
        .values(randomised_at=datetime.combine(participant.enrolment_date, time(10), UTC))
    )
    withdrawal = {k: data[k] for k in later if data.get(k) is not None}
    if withdrawal:  # people withdraw after they were randomised
        with audit_context(reason="withdrew from the study"):
            update_participant(session, participant, withdrawal, participant.version_id)
    return participant
