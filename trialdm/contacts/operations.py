"""Recording, changing and (softly) deleting contact sessions.

Every rule gives a field error (422) and nothing is saved: the PSWs must be trained
(on or before the session date) and active PSWs of the session's site; an
individual session has exactly one attendee and a group session two or more; each
attendee is an enrolled intervention-arm service user of the site, enrolled on or
before the session date and not withdrawn on it (a withdrawal takes effect on its
date); the date is not in the future.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trialdm.contacts.models import ContactAttendance, ContactSession, ContactSessionPsw
from trialdm.core.audit import current_audit_context
from trialdm.core.dates import refuse_future
from trialdm.core.errors import N_, ErrorCollector, Message
from trialdm.core.models import utcnow
from trialdm.core.scoping import require_site
from trialdm.core.versions import check_version
from trialdm.participants.models import Participant
from trialdm.sites.queries import get_site, site_today

SESSION_FIELDS = ("date", "start_time", "format", "mode", "duration_min", "place", "notes")


def _people(session: Session, ids: Iterable[int]) -> dict[int, Participant]:
    """Participants by id, among those the current user may see (others do not exist)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.scalars(
        select(Participant).where(Participant.id.in_(wanted), Participant.deleted_at.is_(None))
    )
    return {p.id: p for p in rows}


def _duplicates(ids: list[int]) -> list[int]:
    seen: set[int] = set()
    return sorted({i for i in ids if i in seen or seen.add(i)})  # type: ignore[func-returns-value]


def check_contact_session(
    session: Session, site_code: str, proposed: Mapping[str, Any], errors: ErrorCollector
) -> None:
    """Every rule of a session given as a dict of field values; adds field errors."""
    on: date | None = proposed.get("date")
    refuse_future(errors, "date", on, site_today(session, site_code))
    psw_ids = list(proposed.get("psws") or [])
    attendee_ids = list(proposed.get("attendees") or [])
    people = _people(session, psw_ids + attendee_ids)

    if not psw_ids:
        errors.add("psws", Message(N_("Name at least one peer support worker.")))
    for pid in _duplicates(psw_ids):
        errors.add("psws", Message(N_("Participant %(pid)s is listed twice."), pid=pid))
    for pid in dict.fromkeys(psw_ids):
        psw = people.get(pid)
        if psw is None:
            errors.add("psws", Message(N_("No participant %(pid)s."), pid=pid))
        elif psw.category != "psw":
            errors.add(
                "psws", Message(N_("%(sid)s is not a peer support worker."), sid=psw.study_id)
            )
        elif psw.site_code != site_code:
            errors.add(
                "psws",
                Message(
                    N_("%(sid)s works at another site (%(site)s)."),
                    sid=psw.study_id,
                    site=psw.site_code,
                ),
            )
        else:
            if psw.training_completed is None:
                errors.add(
                    "psws",
                    Message(N_("%(sid)s has not completed the PSW training."), sid=psw.study_id),
                )
            elif on is not None and psw.training_completed > on:
                errors.add(
                    "psws",
                    Message(
                        N_("%(sid)s completed training on %(date)s, after the session."),
                        sid=psw.study_id,
                        date=psw.training_completed.isoformat(),
                    ),
                )
            if not psw.active:
                errors.add(
                    "psws",
                    Message(N_("%(sid)s is not an active peer support worker."), sid=psw.study_id),
                )

    fmt = proposed.get("format")
    if fmt == "individual" and len(attendee_ids) != 1:
        errors.add("attendees", Message(N_("An individual session has exactly one attendee.")))
    elif fmt == "group" and len(attendee_ids) < 2:
        errors.add("attendees", Message(N_("A group session has two or more attendees.")))
    for pid in _duplicates(attendee_ids):
        errors.add("attendees", Message(N_("Participant %(pid)s is listed twice."), pid=pid))
    for pid in dict.fromkeys(attendee_ids):
        person = people.get(pid)
        if person is None:
            errors.add("attendees", Message(N_("No participant %(pid)s."), pid=pid))
            continue
        sid = person.study_id
        if person.category != "service_user":
            errors.add("attendees", Message(N_("%(sid)s is not a service user."), sid=sid))
        elif person.site_code != site_code:
            errors.add(
                "attendees",
                Message(
                    N_("%(sid)s is enrolled at another site (%(site)s)."),
                    sid=sid,
                    site=person.site_code,
                ),
            )
        elif person.enrolment_date is None:
            errors.add("attendees", Message(N_("%(sid)s is not enrolled in the trial."), sid=sid))
        elif person.arm != "intervention":
            errors.add("attendees", Message(N_("%(sid)s is not in the intervention arm."), sid=sid))
        else:
            if on is not None and on < person.enrolment_date:
                errors.add(
                    "date",
                    Message(
                        N_("Before the enrolment of %(sid)s (%(date)s)."),
                        sid=sid,
                        date=person.enrolment_date.isoformat(),
                    ),
                )
            withdrawn_on = person.withdrawal_date
            if (
                person.status == "withdrawn"
                and withdrawn_on is not None
                and on is not None
                and withdrawn_on <= on
            ):
                errors.add(
                    "attendees",
                    Message(
                        N_("%(sid)s withdrew on %(date)s, before the session."),
                        sid=sid,
                        date=withdrawn_on.isoformat(),
                    ),
                )


def check_against_contacts(
    session: Session, participant: Participant, proposed: Mapping[str, Any], errors: ErrorCollector
) -> None:
    """Changes to a participant that would make recorded sessions break the rules above
    (moving enrolment after a contact, withdrawing before one, leaving the intervention
    arm, PSW training after a session given) are refused until those sessions change."""
    live = (ContactSession.deleted_at.is_(None),)
    if participant.category == "service_user":
        first, last = session.execute(
            select(func.min(ContactSession.date), func.max(ContactSession.date))
            .join(ContactAttendance, ContactAttendance.session_id == ContactSession.id)
            .where(ContactAttendance.participant_id == participant.id, *live)
        ).one()
        if first is None:
            return
        if proposed.get("arm") != "intervention" or proposed.get("enrolment_date") is None:
            errors.add("arm", N_("Has recorded contact sessions; change or delete them first."))
        elif proposed["enrolment_date"] > first:
            errors.add(
                "enrolment_date",
                Message(
                    N_("After the first recorded contact (%(date)s)."),
                    date=first.isoformat(),
                ),
            )
        withdrawn_on = proposed.get("withdrawal_date")
        if proposed.get("status") == "withdrawn" and withdrawn_on and withdrawn_on <= last:
            errors.add(
                "withdrawal_date",
                Message(
                    N_("On or before a recorded contact (%(date)s)."),
                    date=last.isoformat(),
                ),
            )
    elif participant.category == "psw":
        first = session.scalar(
            select(func.min(ContactSession.date))
            .join(ContactSessionPsw, ContactSessionPsw.session_id == ContactSession.id)
            .where(ContactSessionPsw.psw_id == participant.id, *live)
        )
        trained = proposed.get("training_completed")
        if first is not None and (trained is None or trained > first):
            errors.add(
                "training_completed",
                Message(
                    N_("This PSW gave a session on %(date)s; training must precede it."),
                    date=first.isoformat(),
                ),
            )


def _set_links(contact: ContactSession, psw_ids: list[int], attendee_ids: list[int]) -> bool:
    """Make the session's PSW and attendee rows match the lists; True when changed."""
    changed = False
    if sorted(contact.psw_ids) != sorted(psw_ids):
        keep = [link for link in contact.psw_links if link.psw_id in psw_ids]
        have = {link.psw_id for link in keep}
        contact.psw_links = keep + [
            ContactSessionPsw(site_code=contact.site_code, psw_id=pid)
            for pid in dict.fromkeys(psw_ids)
            if pid not in have
        ]
        changed = True
    if sorted(contact.attendee_ids) != sorted(attendee_ids):
        keep_a = [a for a in contact.attendances if a.participant_id in attendee_ids]
        have = {a.participant_id for a in keep_a}
        contact.attendances = keep_a + [
            ContactAttendance(site_code=contact.site_code, participant_id=pid)
            for pid in dict.fromkeys(attendee_ids)
            if pid not in have
        ]
        changed = True
    return changed


def create_contact_session(session: Session, data: Mapping[str, Any]) -> ContactSession:
    site_code = data["site"]
    require_site(site_code)
    get_site(session, site_code)
    errors = ErrorCollector()
    check_contact_session(session, site_code, data, errors)
    errors.raise_if_any()
    contact = ContactSession(
        site_code=site_code, **{name: data.get(name) for name in SESSION_FIELDS}
    )
    _set_links(contact, list(data["psws"]), list(data["attendees"]))
    session.add(contact)
    session.flush()
    return contact


def current_values(contact: ContactSession) -> dict[str, Any]:
    proposed = {name: getattr(contact, name) for name in SESSION_FIELDS}
    proposed["psws"] = contact.psw_ids
    proposed["attendees"] = contact.attendee_ids
    return proposed


def update_contact_session(
    session: Session, contact: ContactSession, changes: Mapping[str, Any], version: int | None
) -> ContactSession:
    require_site(contact.site_code, hide=True)
    check_version(contact, version)
    proposed = current_values(contact)
    proposed.update({k: v for k, v in changes.items() if k != "reason"})
    errors = ErrorCollector()
    check_contact_session(session, contact.site_code, proposed, errors)
    errors.raise_if_any()
    changed = _set_links(contact, list(proposed["psws"]), list(proposed["attendees"]))
    for name in SESSION_FIELDS:
        if getattr(contact, name) != proposed[name]:
            setattr(contact, name, proposed[name])
            changed = True
    if changed:
        # a change of the lists alone must still bump the version (ETag)
        contact.updated_at = utcnow()
    session.flush()
    return contact


def delete_contact_session(session: Session, contact: ContactSession, version: int | None) -> None:
    require_site(contact.site_code, hide=True)
    check_version(contact, version)
    contact.deleted_at = utcnow()
    contact.deleted_reason = current_audit_context().reason
    session.flush()
