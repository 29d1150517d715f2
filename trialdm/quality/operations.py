"""Opening, answering, closing and re-opening queries; signing and unlocking.

Operations flush and raise domain errors; the request or task commits. Every row
they write is audited by the listener (queries, their messages, signatures).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trialdm.auth.models import User
from trialdm.auth.operations import verify_password
from trialdm.auth.permissions import Principal
from trialdm.core.audit import record_event
from trialdm.core.errors import N_, Conflict, Forbidden, Message, ValidationFailed
from trialdm.core.models import utcnow
from trialdm.core.scoping import require_site
from trialdm.core.versions import check_version
from trialdm.instruments.models import InstrumentResponse
from trialdm.participants.models import Participant
from trialdm.quality.models import SIGNATURE_MEANING, DataQuery, DataQueryMessage, Signature
from trialdm.quality.queries import participant_fields, standing_signature_of

CHECK_AUTHOR = "data-quality check"


def _person(session: Session, principal: Principal) -> tuple[int, str]:
    """The acting user's id and printed name (display name, else e-mail)."""
    user = session.get(User, principal.user_id)
    name = (user.display_name if user is not None else None) or principal.email
    return principal.user_id, name


def _live_participant(session: Session, participant_id: int) -> Participant:
    participant = session.scalar(
        select(Participant).where(
            Participant.id == participant_id, Participant.deleted_at.is_(None)
        )
    )
    if participant is None:
        raise ValidationFailed.field("participant_id", N_("No such participant."))
    return participant


def _live_response(session: Session, response_id: int) -> InstrumentResponse:
    response = session.scalar(
        select(InstrumentResponse).where(
            InstrumentResponse.id == response_id, InstrumentResponse.deleted_at.is_(None)
        )
    )
    if response is None:
        raise ValidationFailed.field("response_id", N_("No such response."))
    return response


def _check_field(response: InstrumentResponse | None, participant: Participant, field: str) -> None:
    if response is not None:
        known = set(response.instrument_version.parsed.fields_by_name) | {"collected_on"}
        where = f"{response.instrument_name} v{response.instrument_version.version}"
    else:
        known = participant_fields(participant.category)
        where = f"a {participant.category} record"
    if field not in known:
        raise ValidationFailed.field(
            "field",
            Message(N_("%(field)s is not a field of %(where)s."), field=repr(field), where=where),
        )


# ---------------------------------------------------------------- queries


def open_query(session: Session, principal: Principal, data: Mapping[str, Any]) -> DataQuery:
    """Open a query (monitor, coordinator, site lead) on a record, response or field."""
    response = None
    if data.get("response_id") is not None:
        response = _live_response(session, data["response_id"])
        if data.get("participant_id") not in (None, response.participant_id):
            raise ValidationFailed.field(
                "participant_id", N_("The response belongs to another participant.")
            )
        participant = _live_participant(session, response.participant_id)
    else:
        participant = _live_participant(session, data["participant_id"])
    require_site(participant.site_code, hide=True)
    if data.get("field"):
        _check_field(response, participant, data["field"])
    author_id, author_name = _person(session, principal)
    query = DataQuery(
        site_code=participant.site_code,
        participant_id=participant.id,
        response_id=response.id if response is not None else None,
        field=data.get("field"),
        status="open",
        origin="manual",
        question=data["question"],
        opened_by_id=author_id,
        opened_by_name=author_name,
    )
    query.messages.append(
        DataQueryMessage(
            site_code=participant.site_code,
            action="open",
            text=data["question"],
            author_id=author_id,
            author_name=author_name,
        )
    )
    session.add(query)
    session.flush()
    return query


def open_check_query(
    session: Session,
    *,
    site_code: str,
    participant_id: int,
    response_id: int | None,
    field: str | None,
    rule_name: str,
    check_key: str,
    question: str,
) -> DataQuery:
    """A query opened by a data-quality check (the caller makes sure it is new)."""
    query = DataQuery(
        site_code=site_code,
        participant_id=participant_id,
        response_id=response_id,
        field=field,
        status="open",
        origin="check",
        rule_name=rule_name,
        check_key=check_key,
        question=question,
        opened_by_id=None,
        opened_by_name=CHECK_AUTHOR,
    )
    query.messages.append(
        DataQueryMessage(
            site_code=site_code, action="open", text=question, author_name=CHECK_AUTHOR
        )
    )
    session.add(query)
    return query


def _step(session: Session, principal: Principal, query: DataQuery, action: str, text: str) -> None:
    author_id, author_name = _person(session, principal)
    query.messages.append(
        DataQueryMessage(
            site_code=query.site_code,
            action=action,
            text=text,
            author_id=author_id,
            author_name=author_name,
        )
    )


def answer_query(
    session: Session, principal: Principal, query: DataQuery, text: str, version: int | None
) -> DataQuery:
    """The site answers an open query (with a comment; a data change is made on the
    record itself and explained here)."""
    require_site(query.site_code, hide=True)
    check_version(query, version)
    if query.status != "open":
        raise Conflict(
            Message(
                N_("The query is %(status)s; only an open query can be answered."),
                status=query.status,
            ),
            errors={
                "status": [
                    Message(N_("Query %(id)s is %(status)s."), id=query.id, status=query.status)
                ]
            },
        )
    _step(session, principal, query, "answer", text)
    query.status = "answered"
    query.answered_at = utcnow()
    session.flush()
    return query


def _may_close(principal: Principal, query: DataQuery) -> None:
    """Who opened a query closes or re-opens it; a check's queries, anyone who may
    close queries at the site."""
    if query.origin == "check":
        return
    if query.opened_by_id != principal.user_id:
        raise Forbidden(
            Message(
                N_("Only %(opened_by_name)s, who opened this query, may close or re-open it."),
                opened_by_name=query.opened_by_name,
            )
        )


def close_query(
    session: Session,
    principal: Principal,
    query: DataQuery,
    text: str | None,
    version: int | None,
) -> DataQuery:
    require_site(query.site_code, hide=True)
    check_version(query, version)
    _may_close(principal, query)
    if query.status == "closed":
        raise Conflict(N_("The query is closed already."), errors={"status": ["closed"]})
    _step(session, principal, query, "close", text or "Closed.")
    query.status = "closed"
    query.closed_at = utcnow()
    session.flush()
    return query


def reopen_query(
    session: Session, principal: Principal, query: DataQuery, text: str, version: int | None
) -> DataQuery:
    require_site(query.site_code, hide=True)
    check_version(query, version)
    _may_close(principal, query)
    if query.status == "open":
        raise Conflict(N_("The query is open already."), errors={"status": ["open"]})
    _step(session, principal, query, "reopen", text)
    query.status = "open"
    query.answered_at = None
    query.closed_at = None
    session.flush()
    return query


# ---------------------------------------------------------------- signatures


def _reauthenticate(session: Session, principal: Principal, password: str) -> User:
    """The signer's password, asked again for each signing (21 CFR 11.200(a)(1))."""
    user = session.get(User, principal.user_id)
    if user is None or not verify_password(user, password):
        # Kept although the request fails: repeated failures are how misuse shows.
        record_event(session, "signature_refused", "users", principal.user_id, durable=True)
        raise Forbidden(
            N_("The password is not correct; the form was not signed."),
            errors={"password": [N_("Not your password.")]},
        )
    return user


def _signed_versions(responses: list[InstrumentResponse]) -> str:
    return ",".join(f"{r.id}:{r.version_id}" for r in sorted(responses, key=lambda r: r.id))


def _new_signature(
    session: Session, user: User, participant: Participant, **target: Any
) -> Signature:
    signature = Signature(
        site_code=participant.site_code,
        participant_id=participant.id,
        meaning=SIGNATURE_MEANING,
        signer_id=user.id,
        signer_name=user.display_name or user.email,
        signed_at=utcnow(),
        **target,
    )
    session.add(signature)
    session.flush()
    return signature


def sign(session: Session, principal: Principal, data: Mapping[str, Any]) -> Signature:
    """Sign one completed response, or every response of a participant at an event
    (all complete). The password is checked before anything is looked at further."""
    if data.get("response_id") is not None:
        response = _live_response(session, data["response_id"])
        require_site(response.site_code, hide=True)
        user = _reauthenticate(session, principal, data["password"])
        if response.status != "complete":
            raise ValidationFailed.field(
                "response_id", N_("Only a completed form can be signed; complete it first.")
            )
        if standing_signature_of(session, response) is not None:
            raise Conflict(N_("This form is signed already."), errors={"response_id": ["signed"]})
        participant = _live_participant(session, response.participant_id)
        return _new_signature(
            session,
            user,
            participant,
            scope="form",
            event=response.event,
            response_id=response.id,
            signed_versions=_signed_versions([response]),
        )
    participant = _live_participant(session, data["participant_id"])
    require_site(participant.site_code, hide=True)
    user = _reauthenticate(session, principal, data["password"])
    event = data["event"]
    responses = list(
        session.scalars(
            select(InstrumentResponse).where(
                InstrumentResponse.participant_id == participant.id,
                InstrumentResponse.event == event,
                InstrumentResponse.deleted_at.is_(None),
            )
        )
    )
    if not responses:
        raise ValidationFailed.field(
            "event", Message(N_("The participant has no form at %(event)s."), event=event)
        )
    incomplete = sorted(r.instrument_name for r in responses if r.status != "complete")
    if incomplete:
        raise ValidationFailed.field(
            "event",
            Message(
                N_("Complete every form first; not complete: %(incomplete)s."),
                incomplete=", ".join(incomplete),
            ),
        )
    existing = session.scalar(
        select(Signature.id).where(
            Signature.scope == "event",
            Signature.participant_id == participant.id,
            Signature.event == event,
            Signature.unlocked_at.is_(None),
        )
    )
    if existing is not None:
        raise Conflict(
            Message(N_("Event %(event)s is signed already."), event=event),
            errors={"event": ["signed"]},
        )
    return _new_signature(
        session,
        user,
        participant,
        scope="event",
        event=event,
        response_id=None,
        signed_versions=_signed_versions(responses),
    )


def unlock(
    session: Session,
    principal: Principal,
    signature: Signature,
    reason: str,
    version: int | None,
) -> Signature:
    """Lift a signature (site lead or admin) with a reason: the forms it locked can
    change again, and must be signed again to be locked."""
    require_site(signature.site_code, hide=True)
    check_version(signature, version)
    if not signature.standing:
        raise Conflict(N_("The signature was lifted already."), errors={"signature": ["unlocked"]})
    if not reason.strip():
        raise ValidationFailed.field("reason", N_("Give a reason for unlocking."))
    by_id, by_name = _person(session, principal)
    signature.unlocked_at = utcnow()
    signature.unlocked_by_id = by_id
    signature.unlocked_by_name = by_name
    signature.unlock_reason = reason
    session.flush()
    return signature
