"""Sending one e-mail over SMTP, and telling a failure worth retrying from a final one."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any


class MailError(Exception):
    """A send failed. ``transient``: the server or network may accept it later
    (connection refused, timeouts, 4xx replies); 5xx replies are final."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


def build_message(sender: str, to_address: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to_address
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(body)
    return message


def _reply_is_final(exc: smtplib.SMTPException) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(code >= 500 for code in codes)
    code = getattr(exc, "smtp_code", None)
    return isinstance(code, int) and code >= 500


def send(config: Mapping[str, Any], to_address: str, subject: str, body: str) -> None:
    """Send one message with the SMTP_* settings; raise :class:`MailError`."""
    message = build_message(config["MAIL_SENDER"], to_address, subject, body)
    host, port, timeout = config["SMTP_HOST"], config["SMTP_PORT"], config["SMTP_TIMEOUT"]
    security = config["SMTP_TLS"]
    try:
        if security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        with client:
            if security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if config["SMTP_USER"]:
                client.login(config["SMTP_USER"], config["SMTP_PASSWORD"])
            client.send_message(message)
    except smtplib.SMTPException as exc:
        raise MailError(f"{type(exc).__name__}: {exc}", transient=not _reply_is_final(exc)) from exc
    except OSError as exc:  # refused, unreachable, timeout, TLS failures
        raise MailError(f"{type(exc).__name__}: {exc}", transient=True) from exc


def queue_message(
    session: Any,
    *,
    dedupe_key: str,
    to_address: str,
    subject: str,
    body: str,
    site_code: str | None = None,
) -> int:
    """Put one e-mail in the outbox (sent by the mail task after commit, with retries)
    for other domains: the same delivery, status and failure handling as reminders."""
    from sqlalchemy import insert

    from trialdm.core.models import utcnow
    from trialdm.core.tasks import enqueue
    from trialdm.reminders.models import OutboxMessage

    now = utcnow()
    message_id = session.execute(
        insert(OutboxMessage.__table__)
        .values(
            dedupe_key=dedupe_key,
            kind="immediate",
            user_id=None,
            site_code=site_code,
            to_address=to_address,
            subject=subject,
            body=body,
            status="pending",
            attempts=0,
            failures_in_row=0,
            next_attempt_at=now,
            created_at=now,
        )
        .returning(OutboxMessage.__table__.c.id)
    ).scalar_one()
    enqueue(session, "trialdm.reminders.send_mail", message_id)
    return message_id
