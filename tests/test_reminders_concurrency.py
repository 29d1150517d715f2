"""Two scans, or two deliveries, at the same moment on a committed database (threads,
each with its own session and connection): every reminder is created, delivered
and queued for mail exactly once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tests.reminders_helpers import build_separate_app, use_test_rule
from trialdm.auth.operations import create_user
from trialdm.core.models import utcnow
from trialdm.core.scoping import all_sites
from trialdm.extensions import db
from trialdm.participants.operations import create_participant
from trialdm.reminders import operations
from trialdm.reminders.models import InboxEntry, OutboxMessage, Reminder, ScanRun

DAY = date(2026, 11, 24)
PARTICIPANTS = 5


@pytest.fixture(scope="module")
def committed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = build_separate_app(
        tmp_path_factory.mktemp("reminders_concurrency"), "reminders_concurrency"
    )
    with app.app_context(), all_sites():
        session = db.session
        for index, role in enumerate(("research_worker", "research_worker", "site_lead")):
            create_user(session, f"{role}.{index}@concurrency.test", role, ["BU"])
        for _ in range(PARTICIPANTS):
            create_participant(
                session,
                {
                    "site": "BU",
                    "category": "service_user",
                    "gender": "male",
                    "year_of_birth": 1980,
                    "enrolment_date": date(2026, 6, 1),
                    "consent_date": date(2026, 6, 1),
                    "consent_version": "1.0",
                    "arm": "intervention",
                },
            )
        session.commit()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def clean(committed_app: Flask, monkeypatch) -> Iterator[Flask]:
    use_test_rule(monkeypatch, committed_app)
    yield committed_app
    with committed_app.app_context(), all_sites(), Session(db.engine) as session:
        for model in (InboxEntry, OutboxMessage, Reminder, ScanRun):
            session.execute(delete(model))
        session.commit()


def at_once(app: Flask, work: Callable[[Session], Any], n: int = 2) -> list[Any]:
    """Run ``work`` in ``n`` threads released together, each in its own session and
    transaction; returns their results (or raises the first error)."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            with app.app_context(), all_sites(), Session(db.engine) as session:
                barrier.wait(timeout=30)
                results[index] = work(session)
                session.commit()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    if errors:
        raise errors[0]
    return results


def counts(app: Flask) -> dict[str, int]:
    with app.app_context(), all_sites(), Session(db.engine) as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model))
            for model in (Reminder, InboxEntry, OutboxMessage, ScanRun)
        }


def test_two_scans_at_once_create_and_deliver_each_reminder_once(clean):
    results = at_once(clean, lambda session: operations.scan_site(session, "BU", DAY))
    assert sorted(r.created for r in results) == [0, PARTICIPANTS]
    assert sorted(r.delivered for r in results) == [0, PARTICIPANTS]
    assert counts(clean) == {
        "reminders": PARTICIPANTS,
        "reminder_inbox": PARTICIPANTS * 3,
        # the site lead is in the test rule's audience too; all three want mail at once
        "reminder_outbox": PARTICIPANTS * 3,
        "reminder_scan_runs": 1,
    }


def test_two_deliveries_at_once_claim_each_reminder_once(clean):
    with clean.app_context(), all_sites(), Session(db.engine) as session:
        planned = operations.plan_reminders(session, "BU", DAY)
        operations.insert_new(
            session,
            Reminder.__table__,
            [p.row() for p in planned],
            ["dedupe_key"],
            constants={
                "site_code": "BU",
                "local_date": DAY,
                "created_at": utcnow(),
                "status": "pending",
            },
        )
        session.commit()
    results = at_once(clean, lambda session: operations.deliver_pending(session), n=3)
    assert sorted(results) == [0, 0, PARTICIPANTS]
    assert counts(clean)["reminder_inbox"] == PARTICIPANTS * 3
    assert counts(clean)["reminder_outbox"] == PARTICIPANTS * 3
