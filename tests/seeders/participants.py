"""Cross-site walk records of the participants domain."""

from datetime import date

from trialdm.participants.models import ParticipantImportJob
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
    # A large import that failed, its problems quoting the marker.
    job = ParticipantImportJob(
        site_code=site,
        state="failed",
        step="Failed",
        error="Nothing was imported: 1 problem(s).",
        problems=[{"line": 2, "field": "occupation", "message": marker}],
        file_name="participant-import-walk.csv",
        file_bytes=100,
        rows=1,
    )
    session.add(job)
    session.flush()
    return {"participant_id": participant.id, "import_job_id": job.id}
