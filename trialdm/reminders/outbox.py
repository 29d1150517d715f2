"""Sending e-mail from the outbox: claim a message, send it (or keep it without an
SMTP server), record the attempt, and retry transient failures with a backoff.

A message is claimed with a conditional ``UPDATE`` (``pending`` -> ``sending``) and the
claim is committed before the SMTP conversation, so two workers never both send it;
a claim older than ``MAIL_LEASE_SECONDS`` (its worker died) is taken over.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from trialdm.core.errors import ValidationFailed
from trialdm.core.models import utcnow
from trialdm.core.tasks import enqueue
from trialdm.reminders import mail
from trialdm.reminders.models import DeliveryAttempt, OutboxMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claim:
    message_id: int
    attempt: int
    failures_in_row: int
    to_address: str
    subject: str
    body: str
    claimed_at: datetime


def claim_message(session: Session, message_id: int, now: datetime | None = None) -> Claim | None:
    """Take an outbox message for sending; None when it is not due or someone else has it.

    The caller must commit the claim before talking to the SMTP server."""
    now = now or utcnow()
    lease = timedelta(seconds=current_app.config["MAIL_LEASE_SECONDS"])
    table = OutboxMessage.__table__
    row = session.execute(
        update(table)
        .where(
            table.c.id == message_id,
            or_(
                and_(table.c.status == "pending", table.c.next_attempt_at <= now),
                and_(table.c.status == "sending", table.c.claimed_at < now - lease),
            ),
        )
        .values(status="sending", claimed_at=now, attempts=table.c.attempts + 1)
        .returning(
            table.c.attempts,
            table.c.failures_in_row,
            table.c.to_address,
            table.c.subject,
            table.c.body,
        )
    ).first()
    if row is None:
        return None
    return Claim(
        message_id, row.attempts, row.failures_in_row, row.to_address, row.subject, row.body, now
    )


@dataclass(frozen=True)
class SendOutcome:
    status: str  # sent, kept, pending (retry later) or failed
    retry_in: float | None = None
    error: str | None = None


def retry_delay(failures: int) -> float:
    """Seconds before the next try after ``failures`` failed tries in a row."""
    return float(current_app.config["MAIL_RETRY_SECONDS"] * 2 ** (failures - 1))


def transmit(session: Session, claim: Claim, now: datetime | None = None) -> SendOutcome:
    """Send a claimed message (or keep it in the outbox without an SMTP server),
    record the attempt and set the message's status."""
    config = current_app.config
    error: str | None = None
    transient = False
    if not config["SMTP_HOST"]:
        log.info(
            "mail kept in outbox (no SMTP_HOST): #%s to %s: %s",
            claim.message_id,
            claim.to_address,
            claim.subject,
        )
        status = "kept"
    else:
        try:
            mail.send(config, claim.to_address, claim.subject, claim.body)
            status = "sent"
        except mail.MailError as exc:
            error, transient = str(exc), exc.transient
            status = "pending"
    finished = now or utcnow()
    retry_in = None
    failures = claim.failures_in_row + 1 if error is not None else 0
    if error is not None:
        if transient and failures < config["MAIL_MAX_ATTEMPTS"]:
            retry_in = retry_delay(failures)
        else:
            status = "failed"
        log.warning(
            "mail #%s try %s failed (%s): %s", claim.message_id, claim.attempt, status, error
        )
    table = OutboxMessage.__table__
    values: dict[str, Any] = {
        "status": status,
        "last_error": error,
        "claimed_at": None,
        "failures_in_row": failures,
    }
    if status in ("sent", "kept"):
        values["sent_at"] = finished
    if retry_in is not None:
        values["next_attempt_at"] = finished + timedelta(seconds=retry_in)
    session.execute(
        update(table)
        .where(table.c.id == claim.message_id, table.c.claimed_at == claim.claimed_at)
        .values(**values)
    )
    session.execute(
        DeliveryAttempt.__table__.insert().values(
            message_id=claim.message_id,
            attempt=claim.attempt,
            started_at=claim.claimed_at,
            finished_at=finished,
            ok=error is None,
            error=error,
        )
    )
    return SendOutcome(status, retry_in, error)


def due_messages(session: Session, now: datetime | None = None) -> list[int]:
    """Messages whose (next) try is due, or whose sender died holding the claim."""
    now = now or utcnow()
    lease = timedelta(seconds=current_app.config["MAIL_LEASE_SECONDS"])
    return list(
        session.scalars(
            select(OutboxMessage.id)
            .where(
                or_(
                    and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now),
                    and_(OutboxMessage.status == "sending", OutboxMessage.claimed_at < now - lease),
                )
            )
            .order_by(OutboxMessage.id)
        )
    )


def retry_failed_message(session: Session, message: OutboxMessage) -> OutboxMessage:
    """Give a failed message a fresh set of tries (a site lead fixed the address or server)."""
    if message.status != "failed":
        raise ValidationFailed.field("status", "Only a failed message can be retried.")
    message.status = "pending"
    message.failures_in_row = 0
    message.next_attempt_at = utcnow()
    session.flush()
    enqueue(session, "trialdm.reminders.send_mail", message.id)
    return message
