"""Cross-site walk records of randomisation: an allocation list and a participant
randomised from it, with an error recorded beside the allocation. The randomised
participant (marker in its free text) stands for ``participant_id`` in the walk, so
that every path under it has a record."""

from datetime import date

from flask import current_app

from trialdm.participants.operations import create_participant
from trialdm.randomisation.operations import generate_list, randomise, record_error
from trialdm.screening.operations import create_entry


def seed(session, site: str, marker: str) -> dict:
    saved = current_app.config["RANDOMISATION"]
    current_app.config["RANDOMISATION"] = "service"
    try:
        allocation_list = generate_list(session)
        participant = create_participant(
            session,
            {
                "site": site,
                "category": "service_user",
                "gender": "female",
                "year_of_birth": 1981,
                "enrolment_date": date(2025, 3, 1),
                "consent_date": date(2025, 3, 1),
                "consent_version": "1.0",
                "occupation": marker,
                "diagnoses": [{"code": "other", "text": marker}],
            },
        )
        create_entry(
            session,
            {
                "site": site,
                "screening_date": date(2025, 3, 1),
                "outcome": "eligible",
                "participant_id": participant.id,
            },
        )
        allocation = randomise(session, participant)
        record_error(session, allocation, {"kind": "other", "description": marker})
    finally:
        current_app.config["RANDOMISATION"] = saved
    return {"participant_id": participant.id, "list_id": allocation_list.id}
