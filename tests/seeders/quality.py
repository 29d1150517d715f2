"""Cross-site walk records of the quality domain: a query (its question carries the
marker) on a signed baseline form, and the signature."""

from datetime import date

from tests.seeders.instruments import sync_shipped
from trialdm.auth.operations import create_user
from trialdm.auth.permissions import Principal
from trialdm.instruments.operations import create_response
from trialdm.participants.operations import create_participant
from trialdm.quality.operations import open_query, sign

PASSWORD = "walk password 1"


def seed(session, site: str, marker: str) -> dict:
    sync_shipped(session)
    lead = create_user(session, f"walk.lead.{site.lower()}@test.org", "site_lead", [site], PASSWORD)
    principal = Principal(lead.id, lead.email, (("site_lead", site),))
    participant = create_participant(
        session,
        {
            "site": site,
            "category": "service_user",
            "gender": "male",
            "year_of_birth": 1982,
            "enrolment_date": date(2025, 4, 1),
            "consent_date": date(2025, 4, 1),
            "consent_version": "1.0",
            "arm": "control",
        },
    )
    response = create_response(
        session,
        {
            "participant_id": participant.id,
            "instrument": "social_inclusion_scale",
            "event": "T0",
            "status": "complete",
            "collected_on": date(2025, 4, 2),
            "answers": {f"si_{i:02d}": 1 for i in range(1, 11)},
        },
    )
    query = open_query(
        session,
        principal,
        {"response_id": response.id, "field": "si_01", "question": f"Is this right? {marker}"},
    )
    signature = sign(session, principal, {"response_id": response.id, "password": PASSWORD})
    return {"query_id": query.id, "signature_id": signature.id}
