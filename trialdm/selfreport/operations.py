"""Making, revoking and answering self-report links. Operations flush and raise domain
errors; they never commit.

A link opens one questionnaire of one event of one participant, to whoever holds its
token (128+ bits from ``secrets``); only the token's SHA-256 is stored. Answers given
through it are saved with the participant's site in scope and audited as
``self-report link <id>`` with the role ``participant``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from trialdm.core.audit import audit_context, current_audit_context, set_audit_context
from trialdm.core.errors import N_, Conflict, Message, ValidationFailed
from trialdm.core.models import utcnow
from trialdm.core.scoping import SiteScope, require_site, scoped_to
from trialdm.instruments.models import InstrumentResponse
from trialdm.instruments.queries import get_instrument_version
from trialdm.participants.models import Participant
from trialdm.selfreport.models import SelfReportLink
from trialdm.sites.queries import get_site

TOKEN_BYTES = 32  # 256 bits


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def link_state(link: SelfReportLink) -> str:
    """open, completed, revoked or expired."""
    if link.completed_at is not None:
        return "completed"
    if link.revoked_at is not None:
        return "revoked"
    expires = link.expires_at
    if expires.tzinfo is None:  # SQLite drops the zone
        expires = expires.replace(tzinfo=utcnow().tzinfo)
    if expires <= utcnow():
        return "expired"
    return "open"


def create_link(
    session: Session, participant: Participant, data: Mapping[str, Any]
) -> tuple[SelfReportLink, str]:
    """A new link and its token (the only time the token exists outside the holder's
    hands). An open link for the same questionnaire is revoked: one link at a time."""
    require_site(participant.site_code, hide=True)
    version = get_instrument_version(session, data["instrument"], field="instrument")
    definition = version.parsed
    event = data["event"]
    problems: dict[str, list[str]] = {}
    if participant.category not in definition.respondents:
        problems["instrument"] = [f"{definition.name} is not for {participant.category}s."]
    if participant.category != "service_user" or participant.enrolment_date is None:
        problems["participant_id"] = ["Only enrolled service users get self-report links."]
    if event not in definition.events:
        where = ", ".join(definition.events) or "no event"
        problems["event"] = [f"{definition.name} is due at {where}, not {event}."]
    if participant.status == "withdrawn":
        problems["participant_id"] = ["The participant has withdrawn."]
    site = get_site(session, participant.site_code)
    language = data.get("language") or next(
        (lang for lang in site.languages if lang in definition.languages), "en"
    )
    if language not in definition.languages:
        problems["language"] = [
            f"{definition.name} is not available in '{language}' "
            f"({', '.join(definition.languages)})."
        ]
    if problems:
        raise ValidationFailed(N_("The link cannot be made."), errors=problems)
    done = session.scalar(
        select(InstrumentResponse.id).where(
            InstrumentResponse.participant_id == participant.id,
            InstrumentResponse.event == event,
            InstrumentResponse.instrument_name == definition.name,
            InstrumentResponse.status == "complete",
            InstrumentResponse.deleted_at.is_(None),
        )
    )
    if done is not None:
        raise Conflict(
            Message(
                N_("%(name)s at %(event)s is complete already (response %(done)s)."),
                name=definition.name,
                event=event,
                done=done,
            ),
            errors={"event": [N_("Complete already.")]},
        )
    for previous in session.scalars(
        select(SelfReportLink).where(
            SelfReportLink.participant_id == participant.id,
            SelfReportLink.event == event,
            SelfReportLink.instrument_name == definition.name,
            SelfReportLink.revoked_at.is_(None),
            SelfReportLink.completed_at.is_(None),
        )
    ):
        with audit_context(reason="replaced by a new link"):
            previous.revoked_at = utcnow()
            previous.revoked_reason = "replaced by a new link"
    days = data.get("expires_in_days") or current_app.config["SELF_REPORT_DAYS"]
    token = secrets.token_urlsafe(TOKEN_BYTES)
    ctx = current_audit_context()
    # An unfinished response of this questionnaire is continued through the link.
    unfinished = session.scalar(
        select(InstrumentResponse.id).where(
            InstrumentResponse.participant_id == participant.id,
            InstrumentResponse.event == event,
            InstrumentResponse.instrument_name == definition.name,
            InstrumentResponse.deleted_at.is_(None),
        )
    )
    link = SelfReportLink(
        site_code=participant.site_code,
        participant_id=participant.id,
        instrument_name=definition.name,
        event=event,
        language=language,
        token_hash=token_hash(token),
        expires_at=utcnow() + timedelta(days=days),
        response_id=unfinished,
        created_by_id=ctx.user_id,
        created_by_email=ctx.user_email,
    )
    session.add(link)
    session.flush()
    return link, token


def revoke_link(session: Session, link: SelfReportLink, reason: str) -> SelfReportLink:
    require_site(link.site_code, hide=True)
    state = link_state(link)
    if state in ("completed", "revoked"):
        raise Conflict(Message(N_("The link is %(state)s already."), state=state))
    with audit_context(reason=reason):
        link.revoked_at = utcnow()
        link.revoked_reason = reason
        session.flush()
    return link


def find_link(session: Session, token: str) -> SelfReportLink | None:
    """The link a token opens (whatever its state), or None. Looked up by hash across
    sites: the request has no user, and the token is the only key."""
    if not token or len(token) > 100:
        return None
    return session.scalar(
        select(SelfReportLink)
        .where(SelfReportLink.token_hash == token_hash(token))
        .execution_options(trialdm_skip_site_scoping=True)
    )


@contextmanager
def acting_through(link: SelfReportLink) -> Iterator[None]:
    """The participant acts through the link: the link's site in scope, audited as
    the link (no user)."""
    token = set_audit_context(
        replace(
            current_audit_context(),
            user_id=None,
            user_email=f"self-report link {link.id}",
            role="participant",
            source="self_report",
        )
    )
    try:
        with scoped_to(SiteScope(codes=frozenset({link.site_code}))):
            yield
    finally:
        from trialdm.core.audit import reset_audit_context

        reset_audit_context(token)


def save_answers(
    session: Session, link: SelfReportLink, answers: Mapping[str, Any], complete: bool
) -> InstrumentResponse:
    """Save the answers given through an open link; completing uses the link up."""
    from trialdm.instruments.operations import create_response, update_response

    if link_state(link) != "open":
        raise Conflict(Message(N_("The link is %(link)s."), link=link_state(link)))
    response = session.get(InstrumentResponse, link.response_id) if link.response_id else None
    status = "complete" if complete else "incomplete"
    if response is None or response.deleted_at is not None:
        response = create_response(
            session,
            {
                "participant_id": link.participant_id,
                "instrument": link.instrument_name,
                "event": link.event,
                "status": status,
                "answers": dict(answers),
                "context": f"self_report:{link.id}",
            },
        )
        link.response_id = response.id
    else:
        if response.status == "complete":
            raise Conflict(N_("The questionnaire was returned already."))
        update_response(
            session,
            response,
            {"answers": dict(answers), "status": status, "context": f"self_report:{link.id}"},
            response.version_id,
        )
    if complete:
        link.completed_at = utcnow()
    session.flush()
    return response


def email_link(session: Session, link: SelfReportLink, url: str, to_address: str) -> None:
    """Send the link through the outbox; the address is kept there only, and the audit
    trail records that the link was sent, not where."""
    from flask_babel import force_locale, gettext

    from trialdm.core.audit import record_event
    from trialdm.reminders.mail import queue_message

    with force_locale(link.language if link.language in ("en", "de", "he") else "en"):
        subject = gettext(
            "%(trial)s: a questionnaire for you", trial=current_app.config["TRIAL_NAME"]
        )
        body = gettext(
            "Please answer a short questionnaire for the study on this page:\n\n%(url)s\n\n"
            "The link is for you only and works until %(until)s.",
            url=url,
            until=link.expires_at.strftime("%Y-%m-%d"),
        )
    queue_message(
        session,
        dedupe_key=f"self_report:{link.id}",
        to_address=to_address,
        subject=subject,
        body=body + "\n",
        site_code=link.site_code,
    )
    record_event(session, "sent", "self_report_links", link.id, link.site_code, {"by": "email"})
