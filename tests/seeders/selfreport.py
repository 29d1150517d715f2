"""Cross-site walk records of self-report links: a revoked link of a BU participant
(the marker as its reason) and an open one whose token the page walks open."""

from datetime import date

from tests.seeders.instruments import sync_shipped
from trialdm.participants.operations import create_participant
from trialdm.selfreport.operations import create_link, revoke_link


def seed(session, site: str, marker: str) -> dict:
    sync_shipped(session)
    participant = create_participant(
        session,
        {
            "site": site,
            "category": "service_user",
            "gender": "female",
            "year_of_birth": 1982,
            "enrolment_date": date(2025, 3, 1),
            "consent_date": date(2025, 3, 1),
            "consent_version": "1.0",
            "arm": "control",
            "occupation": marker,
        },
    )
    link, _ = create_link(
        session, participant, {"instrument": "social_inclusion_scale", "event": "T1"}
    )
    revoke_link(session, link, marker)
    # An open link for the page walks: its page is public and must show none of the marker.
    _, token = create_link(
        session, participant, {"instrument": "social_inclusion_scale", "event": "T1"}
    )
    return {"link_id": link.id, "token": token}
