"""E-mail delivery against a real SMTP server on loopback (aiosmtpd): retries with
backoff after temporary failures, a bound after which a send has failed for good
(visible to the site lead), final refusals, and a server that is not there."""

from __future__ import annotations

import socket
from datetime import date

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from tests.reminders_helpers import frozen, use_test_rule
from trialdm.extensions import celery
from trialdm.reminders import operations
from trialdm.reminders.models import DeliveryAttempt, OutboxMessage


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FlakyHandler:
    """Answers the first ``failures`` messages with ``reply``, then accepts."""

    def __init__(self, failures: int, reply: str = "451 4.3.0 Try again later") -> None:
        self.failures = failures
        self.reply = reply
        self.received: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        if self.failures > 0:
            self.failures -= 1
            return self.reply
        self.received.append(envelope.content.decode("utf-8", "replace"))
        return "250 OK"


@pytest.fixture
def smtp_server(app, monkeypatch):
    servers = []

    def start(handler: FlakyHandler) -> FlakyHandler:
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        servers.append(controller)
        monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
        monkeypatch.setitem(app.config, "SMTP_PORT", port)
        monkeypatch.setitem(app.config, "SMTP_TIMEOUT", 5)
        return handler

    yield start
    for controller in servers:
        controller.stop()


@pytest.fixture
def one_message(app, db_session, make_user, make_participant, monkeypatch):
    """An immediate e-mail about one BU participant, waiting in the outbox."""
    use_test_rule(monkeypatch, app)
    user = make_user("research_worker", ["BU"])
    participant = make_participant(
        "BU", "service_user", enrolment_date=date(2026, 6, 1), occupation="baker"
    )
    with frozen(2026, 11, 24, 6):
        operations.scan_site(db_session, "BU", date(2026, 11, 24))
    db_session.info.pop("trialdm_pending_tasks", None)  # the test sends it by hand
    message = db_session.scalar(select(OutboxMessage))
    return message, user, participant


def send(message_id: int) -> str:
    return celery.tasks["trialdm.reminders.send_mail"].apply(args=[message_id], throw=True).result


def attempts(session, message_id: int) -> list[tuple[int, bool, str | None]]:
    return [
        (a.attempt, a.ok, a.error)
        for a in session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.message_id == message_id)
            .order_by(DeliveryAttempt.attempt)
        )
    ]


def test_temporary_failures_are_retried_with_backoff_then_sent(
    app, db_session, smtp_server, one_message
):
    message, user, participant = one_message
    server = smtp_server(FlakyHandler(failures=2))
    celery.loader.import_default_modules()
    with frozen(2026, 11, 24, 6, 0):
        assert send(message.id) == "pending"
        assert send(message.id) == "not due or taken"  # the next try is not due yet
    message = db_session.get(OutboxMessage, message.id, populate_existing=True)
    assert message.status == "pending" and message.attempts == 1
    assert "451" in message.last_error
    with frozen(2026, 11, 24, 6, 0, 59):
        assert send(message.id) == "not due or taken"
    with frozen(2026, 11, 24, 6, 1):  # MAIL_RETRY_SECONDS (60) after the first try
        assert send(message.id) == "pending"
    with frozen(2026, 11, 24, 6, 2, 59):  # the wait doubled: 120 s
        assert operations.due_messages(db_session) == []
    with frozen(2026, 11, 24, 6, 3):
        assert operations.due_messages(db_session) == [message.id]
        assert send(message.id) == "sent"
        assert send(message.id) == "not due or taken"  # never twice
    message = db_session.get(OutboxMessage, message.id, populate_existing=True)
    assert message.status == "sent" and message.attempts == 3
    tries = attempts(db_session, message.id)
    assert [(n, ok) for n, ok, _ in tries] == [(1, False), (2, False), (3, True)]
    (mail,) = server.received
    assert f"To: {user.email}" in mail
    assert participant.study_id in mail and "baker" not in mail


def test_send_gives_up_after_the_bound_and_the_lead_sees_it(
    app, db_session, smtp_server, one_message, monkeypatch, api_as
):
    message, _, _ = one_message
    monkeypatch.setitem(app.config, "MAIL_MAX_ATTEMPTS", 3)
    smtp_server(FlakyHandler(failures=100))
    celery.loader.import_default_modules()
    for minute in (0, 1, 3):
        with frozen(2026, 11, 24, 6, minute):
            send(message.id)
    message = db_session.get(OutboxMessage, message.id, populate_existing=True)
    assert message.status == "failed" and message.attempts == 3
    with frozen(2026, 11, 24, 7):
        assert operations.due_messages(db_session) == []
    db_session.commit()
    lead = api_as("site_lead", ["BU"])
    listing = lead.get("/api/v1/reminders/failed-mail")
    assert listing.status_code == 200
    (item,) = listing.json["items"]
    assert item["id"] == message.id and item["attempts"] == 3 and "451" in item["last_error"]
    assert api_as("site_lead", ["ULM"]).get("/api/v1/reminders/failed-mail").json["items"] == []
    assert api_as("research_worker", ["BU"]).get("/api/v1/reminders/failed-mail").status_code == 403
    retried = lead.post(f"/api/v1/reminders/failed-mail/{message.id}/retry")
    assert retried.status_code == 200, retried.json
    message = db_session.get(OutboxMessage, message.id, populate_existing=True)
    # the retry was queued and run after the request committed; the server still refuses
    assert (message.attempts, message.failures_in_row, message.status) == (4, 1, "pending")


def test_a_final_refusal_is_not_retried(app, db_session, smtp_server, one_message):
    message, _, _ = one_message
    smtp_server(FlakyHandler(failures=1, reply="554 5.7.1 Message rejected"))
    celery.loader.import_default_modules()
    with frozen(2026, 11, 24, 6):
        assert send(message.id) == "failed"
    assert attempts(db_session, message.id)[0][2].startswith("SMTPDataError: (554")


def test_no_server_listening_is_a_temporary_failure(app, db_session, one_message, monkeypatch):
    message, _, _ = one_message
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", free_port())
    celery.loader.import_default_modules()
    with frozen(2026, 11, 24, 6):
        assert send(message.id) == "pending"
    message = db_session.get(OutboxMessage, message.id, populate_existing=True)
    assert "ConnectionRefusedError" in message.last_error


def test_a_claim_of_a_dead_worker_is_taken_over_after_the_lease(app, db_session, one_message):
    message, _, _ = one_message
    with frozen(2026, 11, 24, 6):
        claim = operations.claim_message(db_session, message.id)
        assert claim is not None and claim.attempt == 1
        assert operations.claim_message(db_session, message.id) is None
    with frozen(2026, 11, 24, 6, 10, 1):  # MAIL_LEASE_SECONDS (600) later
        takeover = operations.claim_message(db_session, message.id)
        assert takeover is not None and takeover.attempt == 2
        # the dead worker's late result does not overwrite the new claim
        operations.transmit(db_session, claim)
        message = db_session.get(OutboxMessage, message.id, populate_existing=True)
        assert message.status == "sending"
        assert operations.transmit(db_session, takeover).status == "kept"
