"""Cross-site walk records of the contacts domain: a PSW and a session."""

from datetime import date

from trialdm.contacts.operations import create_contact_session
from trialdm.participants.operations import create_participant


def seed(session, site: str, marker: str) -> dict:
    psw = create_participant(
        session,
        {
            "site": site,
            "category": "psw",
            "gender": "male",
            "year_of_birth": 1985,
            "occupation": marker,
            "training_completed": date(2025, 1, 1),
        },
    )
    user = create_participant(
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
        },
    )
    contact = create_contact_session(
        session,
        {
            "site": site,
            "psws": [psw.id],
            "date": date(2025, 3, 5),
            "format": "individual",
            "mode": "phone",
            "place": marker,
            "notes": marker,
            "attendees": [user.id],
        },
    )
    return {"contact_session_id": contact.id, "psw_id": psw.id}
