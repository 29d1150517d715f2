"""Focus groups and interviews, and adding, correcting and removing their members.

Members are participants of the session's site (any category). Each member's
answers at that session (gender, age, professional background) are stored on the
membership, defaulting to the participant's record. An interview has exactly one
member. Removing a member keeps the row and needs a reason (audited).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trialdm.auth.models import Membership, User
from trialdm.auth.permissions import ALL_SITE_ROLES
from trialdm.core.audit import audit_context, current_audit_context
from trialdm.core.errors import N_, ErrorCollector, Message, ValidationFailed
from trialdm.core.models import utcnow
from trialdm.core.scoping import require_site
from trialdm.core.versions import check_version
from trialdm.participants.models import Participant
from trialdm.participants.operations import age_at
from trialdm.qualitative.models import QualitativeMember, QualitativeSession
from trialdm.qualitative.schemas import SESSION_FIELDS
from trialdm.sites.queries import get_site

KIND_LABEL = {"focus_group": "focus group", "interview": "interview"}


def _check_staff(
    session: Session, site_code: str, proposed: Mapping[str, Any], errors: ErrorCollector
) -> None:
    """Moderator and assistant: a user working at the site (or every site), if named."""
    for name in ("moderator_user_id", "assistant_user_id"):
        user_id = proposed.get(name)
        if user_id is None:
            continue
        user = session.get(User, user_id)
        if user is None:
            errors.add(name, Message(N_("No user %(user_id)s."), user_id=user_id))
            continue
        works_here = session.scalar(
            select(Membership.id)
            .where(
                Membership.user_id == user_id,
                (Membership.site_code == site_code) | Membership.role.in_(ALL_SITE_ROLES),
            )
            .limit(1)
        )
        if works_here is None:
            errors.add(
                name,
                Message(
                    N_("User %(user_id)s does not work at %(site_code)s."),
                    user_id=user_id,
                    site_code=site_code,
                ),
            )


def check_session(
    session: Session, kind: str, site_code: str, proposed: Mapping[str, Any], errors: ErrorCollector
) -> None:
    if kind == "focus_group" and proposed.get("mode") == "phone":
        errors.add("mode", N_("A focus group meets in person or online."))
    _check_staff(session, site_code, proposed, errors)


def _member_problem(
    participant: Participant | None, participant_id: int, site_code: str
) -> str | None:
    if participant is None:
        return f"No participant {participant_id}."
    if participant.site_code != site_code:
        return f"{participant.study_id} belongs to another site ({participant.site_code})."
    return None


def _answers(data: Mapping[str, Any], participant: Participant, on) -> dict[str, Any]:
    """The member's answers, defaulting to what the participant's record says."""
    defaults = {
        "gender": participant.gender,
        "age": age_at({"age": participant.age, "year_of_birth": participant.year_of_birth}, on),
        "profession": participant.profession,
    }
    return {name: data[name] if name in data else defaults[name] for name in defaults}


def _participants(session: Session, ids: list[int]) -> dict[int, Participant]:
    if not ids:
        return {}
    rows = session.scalars(
        select(Participant).where(Participant.id.in_(ids), Participant.deleted_at.is_(None))
    )
    return {p.id: p for p in rows}


def create_session(session: Session, kind: str, data: Mapping[str, Any]) -> QualitativeSession:
    site_code = data["site"]
    require_site(site_code)
    get_site(session, site_code)
    errors = ErrorCollector()
    check_session(session, kind, site_code, data, errors)
    members = list(data.get("members") or [])
    if kind == "interview" and len(members) != 1:
        errors.add("members", N_("An interview has exactly one member."))
    people = _participants(session, [m["participant_id"] for m in members])
    seen: set[int] = set()
    for index, member in enumerate(members, start=1):
        pid = member["participant_id"]
        problem = _member_problem(people.get(pid), pid, site_code)
        if problem:
            errors.add(
                "members", Message(N_("Item %(index)s: %(problem)s"), index=index, problem=problem)
            )
        if pid in seen:
            errors.add(
                "members",
                Message(
                    N_("Item %(index)s: participant %(pid)s is listed twice."), index=index, pid=pid
                ),
            )
        seen.add(pid)
    errors.raise_if_any()

    record = QualitativeSession(
        site_code=site_code,
        kind=kind,
        **{name: data[name] for name in SESSION_FIELDS if name in data},
    )
    if record.consent_recorded is None:
        record.consent_recorded = False
    session.add(record)
    session.flush()
    for member in members:
        participant = people[member["participant_id"]]
        session.add(
            QualitativeMember(
                session_id=record.id,
                site_code=site_code,
                participant_id=participant.id,
                member_code=member.get("member_code"),
                **_answers(member, participant, record.date),
            )
        )
    session.flush()
    session.refresh(record, ["members"])
    return record


def update_session(
    session: Session, record: QualitativeSession, changes: Mapping[str, Any], version: int | None
) -> QualitativeSession:
    require_site(record.site_code, hide=True)
    check_version(record, version)
    proposed = {name: getattr(record, name) for name in SESSION_FIELDS}
    proposed.update({k: v for k, v in changes.items() if k != "reason"})
    errors = ErrorCollector()
    check_session(session, record.kind, record.site_code, proposed, errors)
    errors.raise_if_any()
    for name in SESSION_FIELDS:
        if getattr(record, name) != proposed[name]:
            setattr(record, name, proposed[name])
    session.flush()
    return record


def delete_session(session: Session, record: QualitativeSession, version: int | None) -> None:
    require_site(record.site_code, hide=True)
    check_version(record, version)
    record.deleted_at = utcnow()
    record.deleted_reason = current_audit_context().reason
    session.flush()


def add_member(
    session: Session, record: QualitativeSession, data: Mapping[str, Any]
) -> QualitativeMember:
    """Add a participant to a session; a removed member can be added again."""
    require_site(record.site_code, hide=True)
    pid = data["participant_id"]
    participant = _participants(session, [pid]).get(pid)
    problem = _member_problem(participant, pid, record.site_code)
    if problem:
        raise ValidationFailed.field("participant_id", problem)
    assert participant is not None
    existing = next((m for m in record.members if m.participant_id == pid), None)
    if existing is not None and existing.removed_at is None:
        raise ValidationFailed.field(
            "participant_id",
            Message(N_("%(study_id)s is already a member."), study_id=participant.study_id),
        )
    if record.kind == "interview" and record.current_members:
        raise ValidationFailed.field(
            "participant_id", N_("An interview has exactly one member; remove the other first.")
        )
    answers = _answers(data, participant, record.date)
    if existing is not None:
        with audit_context(reason=data.get("reason") or "Added again after removal."):
            existing.removed_at = None
            existing.removed_reason = None
            existing.member_code = data.get("member_code", existing.member_code)
            for name, value in answers.items():
                setattr(existing, name, value)
            session.flush()
        return existing
    member = QualitativeMember(
        session_id=record.id,
        site_code=record.site_code,
        participant_id=pid,
        member_code=data.get("member_code"),
        **answers,
    )
    with audit_context(reason=data.get("reason") or current_audit_context().reason):
        session.add(member)
        session.flush()
    session.refresh(record, ["members"])
    return member


def update_member(
    session: Session, member: QualitativeMember, changes: Mapping[str, Any], version: int | None
) -> QualitativeMember:
    """Correct a member's answers (the reason is in the audit context)."""
    require_site(member.site_code, hide=True)
    check_version(member, version)
    for name in ("gender", "age", "profession", "member_code"):
        if name in changes and getattr(member, name) != changes[name]:
            setattr(member, name, changes[name])
    session.flush()
    return member


def remove_member(session: Session, member: QualitativeMember, version: int | None) -> None:
    """Take a member off a session; the row stays, with the reason (audited). Of two
    removals of one version, the second fails at flush (412) and records nothing."""
    require_site(member.site_code, hide=True)
    check_version(member, version)
    if member.removed_at is not None:
        raise ValidationFailed.field("member_id", N_("The member was already removed."))
    member.removed_at = utcnow()
    member.removed_reason = current_audit_context().reason
    session.flush()
