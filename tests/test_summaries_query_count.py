"""A summary build runs the same statements whatever the number of people, and the
fidelity rule (the heaviest population) once per build, not once per aggregate."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import event, insert, select

from tasks.summaries import run_build
from trialdm.contacts.models import ContactAttendance, ContactSession, ContactSessionPsw
from trialdm.participants.models import Participant, ParticipantDiagnosis
from trialdm.summaries import operations
from trialdm.summaries.models import SummaryJob

SITE = "BU"


def _add_people(session, count: int, offset: int) -> None:
    """``count`` enrolled service users at one site, every other one in the
    intervention arm with a few individual contacts and a diagnosis."""
    psw = (
        session.scalar(select(Participant.id).where(Participant.study_id == f"{SITE}-QC-PSW"))
        or session.execute(
            insert(Participant.__table__)
            .values(
                site_code=SITE,
                category="psw",
                study_id=f"{SITE}-QC-PSW",
                training_completed=date(2024, 1, 1),
                active=True,
                version_id=1,
            )
            .returning(Participant.__table__.c.id)
        ).scalar_one()
    )
    for n in range(offset, offset + count):
        enrolled = date(2025, 1, 1) + timedelta(days=n % 200)
        person = session.execute(
            insert(Participant.__table__)
            .values(
                site_code=SITE,
                category="service_user",
                study_id=f"{SITE}-QC-{n:05d}",
                gender=("female", "male", None)[n % 3],
                year_of_birth=1960 + n % 40,
                marital_status=("married", "unmarried", None)[n % 3],
                occupation=("farmer", "teacher", None)[n % 3],
                years_of_illness=n % 17,
                years_in_care=n % 9,
                enrolment_date=enrolled,
                consent_date=enrolled,
                consent_version="1.0",
                arm="intervention" if n % 2 else "control",
                status=("enrolled", "withdrawn", "completed")[n % 3],
                withdrawal_date=enrolled + timedelta(days=30) if n % 3 == 1 else None,
                version_id=1,
            )
            .returning(Participant.__table__.c.id)
        ).scalar_one()
        session.execute(
            insert(ParticipantDiagnosis.__table__).values(
                participant_id=person, position=0, code=("F20", "F32")[n % 2]
            )
        )
        if n % 2 == 0:
            continue
        for k in range(n % 5):
            contact = session.execute(
                insert(ContactSession.__table__)
                .values(
                    site_code=SITE,
                    date=enrolled + timedelta(days=7 * (k + 1)),
                    format="individual" if k % 2 else "group",
                    mode="in_person",
                    duration_min=45,
                    version_id=1,
                )
                .returning(ContactSession.__table__.c.id)
            ).scalar_one()
            session.execute(
                insert(ContactSessionPsw.__table__).values(
                    site_code=SITE, session_id=contact, psw_id=psw
                )
            )
            session.execute(
                insert(ContactAttendance.__table__).values(
                    site_code=SITE, session_id=contact, participant_id=person
                )
            )
    session.commit()


def _build(session) -> list[str]:
    """Build the cross-site workbook as the worker does; the statements it ran."""
    job = operations.CreateSummaryJob("all", None, None, "test").run(session)
    session.info.pop("trialdm_pending_tasks", None)
    session.commit()
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    connection = session.connection()
    event.listen(connection, "before_cursor_execute", record)
    try:
        outcome = run_build(session, job.id)
    finally:
        event.remove(connection, "before_cursor_execute", record)
    session.refresh(job)
    assert outcome == "done", job.error
    return statements


def test_statements_do_not_grow_with_people_and_fidelity_runs_once(app, db_session, monkeypatch):
    # Every progress step written, so that a build's count does not depend on its time.
    monkeypatch.setattr(operations, "PROGRESS_SECONDS", 0)
    _add_people(db_session, 8, 0)
    small = _build(db_session)
    _add_people(db_session, 72, 8)
    large = _build(db_session)
    assert len(large) == len(small), (len(small), len(large))
    # Every statement that reads the contacts is the fidelity population's, written
    # once into the build's temporary table; the aggregates read that table.
    contacts = [s for s in large if "contact_attendances" in s]
    assert len(contacts) == 1, contacts
    assert contacts[0].lstrip().upper().startswith("INSERT INTO")


def test_the_listing_is_read_once_for_the_workbook_and_the_json(app, db_session):
    """The job's JSON takes the listing's first rows as the workbook streams them."""
    _add_people(db_session, 12, 0)
    statements = _build(db_session)
    job = db_session.scalars(select(SummaryJob).order_by(SummaryJob.id.desc())).first()
    assert job is not None and job.result
    listing = next(body["listing"] for body in job.result.values() if "listing" in body)
    # the participants of this file's site are among the rows, as printed
    assert len(listing["rows"]) >= 12
    # the listing's statement: one line per person, their study ID first
    reads = [s for s in statements if s.lstrip().startswith("SELECT population.study_id")]
    assert len(reads) == 1, reads
