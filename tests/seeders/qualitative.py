"""Cross-site walk records of the qualitative domain: a focus group and an interview."""

from datetime import date

from trialdm.participants.operations import create_participant
from trialdm.qualitative.operations import create_session


def seed(session, site: str, marker: str) -> dict:
    mhw = create_participant(
        session,
        {"site": site, "category": "mhw", "gender": "female", "profession": marker, "age": 40},
    )
    psw = create_participant(
        session,
        {"site": site, "category": "psw", "gender": "male", "age": 35, "occupation": marker},
    )
    focus_group = create_session(
        session,
        "focus_group",
        {
            "site": site,
            "date": date(2025, 5, 1),
            "mode": "in_person",
            "location": marker,
            "field_notes": marker,
            "moderator_role": marker,
            "members": [{"participant_id": mhw.id, "profession": marker}],
        },
    )
    interview = create_session(
        session,
        "interview",
        {
            "site": site,
            "date": date(2025, 5, 2),
            "mode": "phone",
            "field_notes": marker,
            "members": [{"participant_id": psw.id, "member_code": marker[:32]}],
        },
    )
    return {
        "focus_group_id": focus_group.id,
        "interview_id": interview.id,
        "member_id": focus_group.members[0].id,
    }
