"""Cross-site walk records of the participants domain."""

from datetime import date

from trialdm.participants.operations import create_participant


def seed(session, site: str, marker: str) -> dict:
    participant = create_participant(
        session,
        {
            "site": site,
            "category": "service_user",
            "gender": "female",
            "year_of_birth": 1980,
            "enrolment_date": date(2025, 3, 1),
            "consent_date": date(2025, 3, 1),
            "consent_version": "1.0",
            "arm": "intervention",
            "occupation": marker,
            "diagnoses": [{"code": "other", "text": marker}],
        },
    )
    return {"participant_id": participant.id}
