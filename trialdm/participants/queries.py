from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from trialdm.core.errors import N_
from trialdm.core.queries import get_or_404
from trialdm.participants.hooks import apply_filters
from trialdm.participants.models import Participant, ParticipantImportJob
from trialdm.participants.vocabulary import Entry, Vocabulary, load_vocabulary

SORTABLE = {
    "id": Participant.id,
    "study_id": Participant.study_id,
    "enrolment_date": Participant.enrolment_date,
    "created_at": Participant.created_at,
    "updated_at": Participant.updated_at,
    "site": Participant.site_code,
}


def vocabulary_named(name: str) -> Vocabulary:
    """A vocabulary of the trial by name (a file of ``VOCABULARIES_PATH`` without
    ``.toml``), for any coded variable that names one. Raises ``VocabularyError``."""
    return load_vocabulary(current_app.config["VOCABULARIES_PATH"], name)


def diagnosis_vocabulary_in_use() -> Vocabulary:
    """The vocabulary diagnoses are recorded in (the ``DIAGNOSIS_VOCABULARY`` setting)."""
    return vocabulary_named(current_app.config["DIAGNOSIS_VOCABULARY"])


def diagnosis_label(code: str, language: str | None = None) -> str:
    """The label of a diagnosis code (in ``language`` when the vocabulary has one);
    a code the vocabulary does not hold is shown as it is."""
    return diagnosis_vocabulary_in_use().label(code, language)


def diagnosis_entries() -> tuple[Entry, ...]:
    """The diagnosis vocabulary's entries in the order its file gives them
    (``other`` is not an entry: see ``Vocabulary.other``)."""
    return diagnosis_vocabulary_in_use().entries


def diagnosis_in_group(code: str, group: str) -> bool:
    """Whether a recorded diagnosis code belongs to a group such as ``F40–F41``
    (every code from F40 to F41 at any depth), ``F41.1`` (exactly that code),
    ``F41*`` (F41 and below) or a comma-separated list of these. A study's own code
    belongs when the code it maps to does."""
    return diagnosis_vocabulary_in_use().in_group(code, group)


def get_participant(session: Session, participant_id: int) -> Participant:
    """A participant of the current scope, or 404 (other sites' records do not exist)."""
    return get_or_404(session, Participant, participant_id, missing=N_("No such participant."))


def get_import_job(session: Session, job_id: int) -> ParticipantImportJob:
    """A large import of the current scope, or 404."""
    return get_or_404(session, ParticipantImportJob, job_id, missing=N_("No such import job."))


def participants_query(filters: Mapping[str, Any]) -> Select:
    stmt = select(Participant).where(Participant.deleted_at.is_(None))
    if filters.get("site"):
        stmt = stmt.where(Participant.site_code == filters["site"])
    for name in ("category", "status", "arm", "gender"):
        if filters.get(name):
            stmt = stmt.where(getattr(Participant, name) == filters[name])
    if filters.get("q"):
        stmt = stmt.where(Participant.study_id.icontains(filters["q"].strip(), autoescape=True))
    return apply_filters(stmt, filters)


def counts_by_site_status_arm(session: Session) -> list[tuple[str, str | None, str | None, int]]:
    """(site, status, arm, n) of enrolled service users in the current scope."""
    rows = session.execute(
        select(
            Participant.site_code,
            Participant.status,
            Participant.arm,
            func.count(),
        )
        .where(
            Participant.deleted_at.is_(None),
            Participant.category == "service_user",
            Participant.enrolment_date.is_not(None),
        )
        .group_by(Participant.site_code, Participant.status, Participant.arm)
        .order_by(Participant.site_code)
    )
    return [(site, status, arm, n) for site, status, arm, n in rows]


def enrolled_by_site_status_arm_day(
    session: Session,
) -> list[tuple[str, str | None, str | None, date, int]]:
    """(site, status, arm, enrolment date, n) of service users in the current scope:
    the dashboard's counts and its enrolment chart by one statement, read in the
    order of the index on (category, site, enrolment date, status, arm) alone, whether
    the scope is one site or all."""
    rows = session.execute(
        select(
            Participant.site_code,
            Participant.status,
            Participant.arm,
            Participant.enrolment_date,
            func.count(),
        )
        .where(
            Participant.deleted_at.is_(None),
            Participant.category == "service_user",
            Participant.enrolment_date.is_not(None),
        )
        .group_by(
            Participant.site_code, Participant.enrolment_date, Participant.status, Participant.arm
        )
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]
