"""Shared set-up of the quality tests: an enrolled participant with a baseline form."""

from __future__ import annotations

from datetime import date
from typing import Any

from tests.seeders.instruments import sync_shipped

BASELINE = {
    "gender": "female",
    "year_of_birth": 1985,
    "marital_status": "single",
    "living_situation": "family",
    "employment": "part_time",
    "hours_per_week": 20,
    "diagnoses": ["depression"],
    "years_since_first_contact": 6.5,
}


def enrolled_with_baseline(db_session, make_participant, site: str = "BU", **fields: Any):
    """A participant enrolled at ``site`` with a complete baseline form; returns both."""
    from trialdm.instruments.operations import create_response

    sync_shipped(db_session)
    db_session.commit()
    fields.setdefault("enrolment_date", date(2025, 1, 31))
    # the record's diagnoses, which BASELINE's diagnoses item shows (derived from them)
    fields.setdefault("diagnoses", [{"code": "F32"}])
    participant = make_participant(site, **fields)
    response = create_response(
        db_session,
        {
            "participant_id": participant.id,
            "instrument": "baseline_demographics",
            "event": "T0",
            "status": "complete",
            "collected_on": date(2025, 2, 1),
            "answers": BASELINE,
        },
    )
    db_session.commit()
    return participant, response
