"""The datasets that are not instruments: participants, contacts, fidelity, the
qualitative sessions and members, the schedule and screening. Each is one SQL
statement streamed row by row (plus, for lists inside a row, a second stream in
the same order merged in)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from flask import current_app
from sqlalchemy import Boolean, Select, func, select
from sqlalchemy.orm import Session, aliased

from trialdm.contacts.models import (
    FIDELITY_STATUSES,
    ContactAttendance,
    ContactSession,
    ContactSessionPsw,
)
from trialdm.contacts.models import FORMATS as CONTACT_FORMATS
from trialdm.contacts.models import MODES as CONTACT_MODES
from trialdm.core.errors import N_
from trialdm.exports.datasets import (
    YES_NO_LABELS,
    Dataset,
    Row,
    Variable,
    as_date,
    code_labels,
    stream,
    stream_raw,
)
from trialdm.participants.models import Participant, ParticipantDiagnosis
from trialdm.participants.vocabulary import ARMS, CATEGORIES, GENDERS, MARITAL_STATUSES, STATUSES
from trialdm.qualitative.models import KINDS as QUALITATIVE_KINDS
from trialdm.qualitative.models import MODES as QUALITATIVE_MODES
from trialdm.qualitative.models import QualitativeMember, QualitativeSession
from trialdm.randomisation.models import Randomisation, RandomisationError
from trialdm.screening.models import OUTCOMES, ScreeningEntry

V = Variable


def _clock(value: time | str | None) -> str | None:
    """HH:MM of a time, or of its text ('13:05:00.000000', as SQLite stores it)."""
    if value is None:
        return None
    return value[:5] if isinstance(value, str) else value.strftime("%H:%M")


def _utc(at: datetime | str) -> datetime:
    """A stored time in UTC (SQLite gives it back as text without its zone)."""
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _cells(stmt: Select) -> Callable[[Sequence[Any]], list[Any]]:
    """A row of ``stmt`` as cells: booleans as 1/0, everything else (dates come as
    dates) as read. The boolean columns are found once, from the statement."""
    flags = [i for i, c in enumerate(stmt.selected_columns) if isinstance(c.type, Boolean)]

    def cells(row: Sequence[Any]) -> list[Any]:
        values = list(row)
        for i in flags:
            if values[i] is not None:
                values[i] = int(values[i])
        return values

    return cells


def _plain(stmt: Select) -> Callable[[Session], Iterator[Row]]:
    cells = _cells(stmt)

    def rows(session: Session) -> Iterator[Row]:
        for row in stream(session, stmt):
            yield tuple(cells(row))

    return rows


def participants_dataset(read_on: date, list_positions: bool = False) -> Dataset:
    """One row per participant with the allocation beside it: when, by whom (the user
    number always, the e-mail address as an identifier), the stratum and any errors
    recorded. The list and position an allocation came from are concealment: only for
    an export asked by someone who may see the allocation lists (``list_positions``)."""
    p = Participant
    variables = [
        V("study_id", N_("Study ID"), "string"),
        V("site", N_("Site"), "string"),
        V("category", N_("Participant category"), "code", choices=code_labels(CATEGORIES)),
        V("gender", N_("Gender"), "code", choices=code_labels(GENDERS)),
        V("year_of_birth", N_("Year of birth"), "integer"),
        V("age", N_("Age (when no year of birth)"), "integer", unit=N_("years")),
        V("marital_status", N_("Marital status"), "code", choices=code_labels(MARITAL_STATUSES)),
        V("occupation", N_("Occupation (free text)"), "string", identifier=True),
        V("years_of_illness", N_("Years of illness"), "decimal", unit=N_("years")),
        V("years_in_care", N_("Years in mental-health care"), "decimal", unit=N_("years")),
        V("enrolment_date", N_("Enrolment date"), "date"),
        V("consent_date", N_("Consent date"), "date"),
        V("consent_version", N_("Consent form version"), "string"),
        V("arm", N_("Arm"), "code", choices=code_labels(ARMS)),
        V("status", N_("Trial status"), "code", choices=code_labels(STATUSES)),
        V("withdrawal_date", N_("Withdrawal date"), "date"),
        V("withdrawal_reason", N_("Withdrawal reason (free text)"), "string", identifier=True),
        V("intervention_start", N_("Peer support started on"), "date"),
        V("training_completed", N_("PSW training completed on"), "date"),
        V("active", N_("PSW active"), "integer", value_labels=YES_NO_LABELS),
        V("profession", N_("Professional background (free text)"), "string", identifier=True),
        V("diagnosis_codes", N_("Diagnoses (codes, in order, separated by '; ')"), "string"),
        V("diagnosis_texts", N_("Diagnoses (as written, separated by '; ')"), "string"),
        V("randomised_at", N_("Randomised at (UTC, ISO 8601)"), "string"),
        V("randomised_by_id", N_("Randomised by (user number)"), "integer"),
        V("randomised_by", N_("Randomised by (e-mail address)"), "string", identifier=True),
        V(
            "randomised_arm",
            N_("Arm allocated by the randomisation"),
            "code",
            choices=code_labels(ARMS),
        ),
        V("stratum", N_("Randomisation stratum (besides the site)"), "string"),
        V(
            "randomisation_errors",
            N_("Errors recorded beside the allocation (kinds, separated by '; ')"),
            "string",
        ),
        V(
            "randomisation_error_notes",
            N_("Errors recorded beside the allocation (descriptions, separated by ' | ')"),
            "string",
            identifier=True,
        ),
    ]
    if list_positions:
        variables += [
            V("allocation_list", N_("Allocation list (number)"), "integer"),
            V("list_position", N_("Position in the stratum's sequence of the list"), "integer"),
        ]
    errors = RandomisationError.__table__
    recorded = (
        select(
            errors.c.randomisation_id,
            func.aggregate_strings(errors.c.kind, "; ").label("kinds"),
            func.aggregate_strings(errors.c.description, " | ").label("notes"),
        )
        .group_by(errors.c.randomisation_id)
        .subquery("recorded_errors")
    )
    # The plain table: the ORM's site criteria for an outer-joined entity would go
    # into WHERE and drop everyone not randomised; an allocation shares its
    # participant's site, which the filter restricts.
    allocations = Randomisation.__table__
    people = (
        select(
            p.id,
            p.study_id,
            p.site_code,
            p.category,
            p.gender,
            p.year_of_birth,
            p.age,
            p.marital_status,
            p.occupation,
            p.years_of_illness,
            p.years_in_care,
            p.enrolment_date,
            p.consent_date,
            p.consent_version,
            p.arm,
            p.status,
            p.withdrawal_date,
            p.withdrawal_reason,
            p.intervention_start,
            p.training_completed,
            p.active,
            p.profession,
            allocations.c.randomised_at,
            allocations.c.randomised_by_id,
            allocations.c.randomised_by_email,
            allocations.c.arm,
            allocations.c.stratum,
            recorded.c.kinds,
            recorded.c.notes,
            *((allocations.c.list_id, allocations.c.position) if list_positions else ()),
        )
        .outerjoin(allocations, allocations.c.participant_id == p.id)
        .outerjoin(recorded, recorded.c.randomisation_id == allocations.c.id)
        .where(p.deleted_at.is_(None))
        .order_by(p.study_id)
    )
    split = 22  # the participant's own columns, then the allocation's
    diagnoses = (
        select(ParticipantDiagnosis.participant_id, ParticipantDiagnosis.code)
        .add_columns(ParticipantDiagnosis.text)
        .join(p, p.id == ParticipantDiagnosis.participant_id)
        .where(p.deleted_at.is_(None))
        .order_by(p.study_id, ParticipantDiagnosis.position)
    )

    cells = _cells(people)

    def rows(session: Session) -> Iterator[Row]:
        pending = stream_raw(session, diagnoses)
        diagnosis = next(pending, None)
        for person in stream_raw(session, people):
            codes: list[str] = []
            texts: list[str] = []
            while diagnosis is not None and diagnosis[0] == person[0]:
                codes.append(diagnosis[1])
                texts.append(diagnosis[2] or "")
                diagnosis = next(pending, None)
            values = cells(person)
            at = values[split]
            yield (
                *values[1:split],
                "; ".join(codes) or None,
                "; ".join(texts) if any(texts) else None,
                None if at is None else _utc(at).isoformat(),
                *values[split + 1 :],
            )

    return Dataset("participants", "Participants", variables, rows)


def contacts_dataset(read_on: date) -> Dataset:
    s, attendee, psw = ContactSession, aliased(Participant), aliased(Participant)
    variables = [
        V("session_id", N_("Session number"), "integer"),
        V("site", N_("Site"), "string"),
        V("study_id", N_("Service user (study ID)"), "string"),
        V("arm", N_("Arm"), "code", choices=code_labels(ARMS)),
        V("date", N_("Session date"), "date"),
        V("start_time", N_("Start time (HH:MM, site time)"), "string"),
        V("format", N_("Format"), "code", choices=code_labels(CONTACT_FORMATS)),
        V("mode", N_("Mode"), "code", choices=code_labels(CONTACT_MODES)),
        V("duration_min", N_("Duration"), "integer", unit=N_("minutes")),
        V("place", N_("Place (free text)"), "string", identifier=True),
        V("notes", N_("Notes (free text)"), "string", identifier=True),
        V("psws", N_("Peer support workers (study IDs, separated by '; ')"), "string"),
    ]
    attendances = (
        select(
            s.id,
            s.site_code,
            attendee.study_id,
            attendee.arm,
            s.date,
            s.start_time,
            s.format,
            s.mode,
            s.duration_min,
            s.place,
            s.notes,
        )
        .join(ContactAttendance, ContactAttendance.session_id == s.id)
        .join(attendee, attendee.id == ContactAttendance.participant_id)
        .where(s.deleted_at.is_(None))
        .order_by(s.id, attendee.study_id)
    )
    psws = (
        select(ContactSessionPsw.session_id, psw.study_id)
        .join(s, s.id == ContactSessionPsw.session_id)
        .join(psw, psw.id == ContactSessionPsw.psw_id)
        .where(s.deleted_at.is_(None))
        .order_by(ContactSessionPsw.session_id, psw.study_id)
    )

    def rows(session: Session) -> Iterator[Row]:
        pending = stream_raw(session, psws)
        link = next(pending, None)
        current: int | None = None
        names: str | None = None
        for a in stream_raw(session, attendances):
            if a[0] != current:
                current, found = a[0], []
                while link is not None and link[0] <= current:
                    if link[0] == current:
                        found.append(link[1])
                    link = next(pending, None)
                names = "; ".join(found) or None
            yield (*a[:5], _clock(a[5]), *a[6:], names)

    return Dataset("contacts", "Peer-support contacts (one row per attendance)", variables, rows)


def fidelity_dataset(read_on: date) -> Dataset:
    from trialdm.contacts.queries import FidelityRule, fidelity_subquery

    fid = fidelity_subquery(read_on)
    minimum = FidelityRule.from_settings().minimum
    variables = [
        V("study_id", N_("Study ID"), "string"),
        V("site", N_("Site"), "string"),
        V("first_contact", N_("First contact"), "date"),
        V("window_start", N_("Intervention window starts"), "date"),
        V("window_end", N_("Intervention window ends"), "date"),
        V("contacts_total", N_("Contacts in total"), "integer"),
        V("contacts_in_window", N_("Contacts inside the window"), "integer"),
        V("minimum", N_("Contacts required (the fidelity minimum)"), "integer"),
        V("days_left", N_("Days left in the window"), "integer", unit=N_("days")),
        V("status", N_("Fidelity status"), "code", choices=code_labels(FIDELITY_STATUSES)),
        V("as_of", N_("Fidelity as of (the day the data were read)"), "date"),
    ]
    stmt = (
        select(
            Participant.study_id,
            fid.c.site_code,
            fid.c.first_contact,
            fid.c.window_start,
            fid.c.window_end,
            fid.c.contacts_total,
            fid.c.contacts_in_window,
            fid.c.days_left,
            fid.c.status,
        )
        .join(Participant, Participant.id == fid.c.participant_id)
        .order_by(Participant.study_id)
    )

    def rows(session: Session) -> Iterator[Row]:
        for r in stream(session, stmt):
            # dates computed in SQL come back as text on SQLite
            dates = (as_date(r[2]), as_date(r[3]), as_date(r[4]))
            yield (r[0], r[1], *dates, r[5], r[6], minimum, r[7], r[8], read_on)

    return Dataset("fidelity", "Fidelity per intervention participant", variables, rows)


def qualitative_sessions_dataset(read_on: date) -> Dataset:
    q = QualitativeSession
    variables = [
        V("session_id", N_("Session number"), "integer"),
        V("site", N_("Site"), "string"),
        V("kind", N_("Kind"), "code", choices=code_labels(QUALITATIVE_KINDS)),
        V("date", N_("Date"), "date"),
        V("start_time", N_("Start time (HH:MM, site time)"), "string"),
        V("duration_min", N_("Duration"), "integer", unit=N_("minutes")),
        V("location", N_("Location (free text)"), "string", identifier=True),
        V("mode", N_("Mode"), "code", choices=code_labels(QUALITATIVE_MODES)),
        V("language", N_("Language"), "string"),
        V("moderator_role", N_("Moderator (role)"), "string"),
        V("assistant_role", N_("Assistant (role)"), "string"),
        V("topic_guide_ref", N_("Topic guide"), "string"),
        V(
            "consent_recorded",
            N_("Consent recorded"),
            "integer",
            value_labels=YES_NO_LABELS,
        ),
        V("field_notes", N_("Field notes (free text)"), "string", identifier=True),
    ]
    stmt = (
        select(
            q.id,
            q.site_code,
            q.kind,
            q.date,
            q.start_time,
            q.duration_min,
            q.location,
            q.mode,
            q.language,
            q.moderator_role,
            q.assistant_role,
            q.topic_guide_ref,
            q.consent_recorded,
            q.field_notes,
        )
        .where(q.deleted_at.is_(None))
        .order_by(q.id)
    )

    def rows(session: Session) -> Iterator[Row]:
        cells = _cells(stmt)
        for r in stream(session, stmt):
            values = cells(r)
            values[4] = _clock(values[4])
            yield tuple(values)

    return Dataset("qualitative_sessions", "Focus groups and interviews", variables, rows)


def qualitative_members_dataset(read_on: date) -> Dataset:
    m, q = QualitativeMember, QualitativeSession
    variables = [
        V("session_id", N_("Session number"), "integer"),
        V("site", N_("Site"), "string"),
        V("study_id", N_("Study ID"), "string"),
        V("member_code", N_("Member code in the transcripts"), "string"),
        V("gender", N_("Gender"), "code", choices=code_labels(GENDERS)),
        V("age", N_("Age"), "integer", unit=N_("years")),
        V("profession", N_("Professional background"), "string"),
    ]
    stmt = (
        select(m.session_id, m.site_code, Participant.study_id, m.member_code)
        .add_columns(m.gender, m.age, m.profession)
        .join(q, q.id == m.session_id)
        .join(Participant, Participant.id == m.participant_id)
        .where(q.deleted_at.is_(None), m.removed_at.is_(None))
        .order_by(m.session_id, Participant.study_id)
    )
    label = "Members of focus groups and interviews"
    return Dataset("qualitative_members", label, variables, _plain(stmt))


def schedule_dataset(read_on: date) -> Dataset:
    from trialdm.instruments.queries import instruments_due_by_event
    from trialdm.schedule.queries import STATUSES as SCHEDULE_STATUSES
    from trialdm.schedule.queries import schedule_events, schedule_query

    variables = [
        V("study_id", N_("Study ID"), "string"),
        V("site", N_("Site"), "string"),
        V("event", N_("Schedule event"), "string"),
        V("due_date", N_("Due on"), "date"),
        V("window_start", N_("Window opens"), "date"),
        V("window_end", N_("Window closes"), "date"),
        V("status", N_("Status"), "code", choices=code_labels(SCHEDULE_STATUSES)),
        V("completed_on", N_("Completed on"), "date"),
        V("as_of", N_("Status as of (the day the data were read)"), "date"),
    ]

    def rows(session: Session) -> Iterator[Row]:
        config = current_app.config
        stmt = schedule_query(
            read_on,
            schedule_events(config),
            config["SCHEDULE_WINDOW_DAYS"],
            instruments_due_by_event(session),
        )
        for r in stream(session, stmt):
            yield (
                r.study_id,
                r.site,
                r.event,
                as_date(r.due_date),
                as_date(r.window_start),
                as_date(r.window_end),
                r.status,
                as_date(r.completed_on),
                read_on,
            )

    return Dataset("schedule", "Assessment schedule (participant x event)", variables, rows)


def screening_dataset(read_on: date) -> Dataset:
    e = ScreeningEntry
    variables = [
        V("screening_id", N_("Screening number"), "integer"),
        V("site", N_("Site"), "string"),
        V("screening_date", N_("Screened on"), "date"),
        V("outcome", N_("Outcome"), "code", choices=code_labels(OUTCOMES)),
        V("outcome_reason", N_("Reason (free text)"), "string", identifier=True),
        V("study_id", N_("Study ID (when enrolled)"), "string"),
        V("notes", N_("Notes (free text)"), "string", identifier=True),
    ]
    # The plain participants table: the ORM's site criteria for an outer-joined
    # entity would go into WHERE and drop the entries of people never enrolled.
    people = Participant.__table__
    stmt = (
        select(e.id, e.site_code, e.screening_date, e.outcome, e.outcome_reason)
        .add_columns(people.c.study_id, e.notes)
        .outerjoin(people, people.c.id == e.participant_id)
        .where(e.deleted_at.is_(None))
        .order_by(e.id)
    )
    return Dataset("screening", "Screening log", variables, _plain(stmt))


TABLES: dict[str, Callable[[date], Dataset]] = {
    "participants": participants_dataset,
    "contacts": contacts_dataset,
    "fidelity": fidelity_dataset,
    "qualitative_sessions": qualitative_sessions_dataset,
    "qualitative_members": qualitative_members_dataset,
    "schedule": schedule_dataset,
    "screening": screening_dataset,
}
