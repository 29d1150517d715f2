"""Cross-site walk records of the screening log."""

from datetime import date

from trialdm.screening.operations import create_entry


def seed(session, site: str, marker: str) -> dict:
    entry = create_entry(
        session,
        {
            "site": site,
            "screening_date": date(2025, 2, 1),
            "outcome": "declined",
            "outcome_reason": marker,
            "notes": marker,
        },
    )
    return {"screening_id": entry.id}
