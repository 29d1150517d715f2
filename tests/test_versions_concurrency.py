"""Members of a focus group changed by several people at the same moment, through
the API, on a committed database (threads, each request its own transaction):
exactly one write of a version wins, every other answers 412, and the audit trail
holds one row per change with the old values the winner really replaced."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.reminders_helpers import build_separate_app
from trialdm.auth.operations import create_token, create_user
from trialdm.core.audit import AuditEvent
from trialdm.core.scoping import all_sites
from trialdm.extensions import db
from trialdm.participants.operations import create_participant
from trialdm.qualitative.models import QualitativeMember
from trialdm.qualitative.operations import create_session

WRITERS = 10
FIRST_AGE = 40


@pytest.fixture(scope="module")
def committed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = build_separate_app(tmp_path_factory.mktemp("versions_concurrency"), "versions_races")
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def group(committed_app: Flask) -> dict[str, Any]:
    """A focus group of BU with three members, and a token per writer (each writer is
    another research worker of BU)."""
    with committed_app.app_context(), all_sites():
        session = db.session
        people = [
            create_participant(
                session,
                {
                    "site": "BU",
                    "category": "mhw",
                    "gender": "female",
                    "year_of_birth": 1985,
                    "profession": "nurse",
                },
            )
            for _ in range(3)
        ]
        record = create_session(
            session,
            "focus_group",
            {
                "site": "BU",
                "date": date(2021, 8, 24),
                "mode": "in_person",
                "members": [{"participant_id": p.id, "age": FIRST_AGE} for p in people],
            },
        )
        tokens = []
        for _ in range(WRITERS):
            user = create_user(
                session, f"rw.{len(tokens)}.{record.id}@races.test", "research_worker", ["BU"]
            )
            tokens.append(create_token(session, user)[1])
        session.commit()
        return {
            "url": f"/api/v1/focus-groups/{record.id}/members",
            "members": [m.id for m in record.members],
            "tokens": tokens,
        }


def at_once(app: Flask, requests: list[tuple[str, str, dict[str, Any]]]) -> list[Any]:
    """Send each (token, method, kwargs) request from its own thread, released together."""
    barrier = threading.Barrier(len(requests))
    results: list[Any] = [None] * len(requests)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        token, method, kwargs = requests[index]
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        try:
            barrier.wait(timeout=30)
            results[index] = getattr(client, method)(headers=headers, **kwargs)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a request hung"
    if errors:
        raise errors[0]
    return results


def member_events(app: Flask, member_id: int) -> list[AuditEvent]:
    with app.app_context(), all_sites(), Session(db.engine) as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(
                    AuditEvent.entity == "qualitative_members",
                    AuditEvent.entity_id == str(member_id),
                    AuditEvent.action != "insert",
                )
                .order_by(AuditEvent.id)
            )
        )


def stored(app: Flask, member_id: int) -> QualitativeMember:
    with app.app_context(), all_sites(), Session(db.engine) as session:
        member = session.get(QualitativeMember, member_id)
        session.expunge(member)
        return member


def test_concurrent_corrections_one_wins_the_others_412(committed_app, group):
    member_id = group["members"][0]
    url = f"{group['url']}/{member_id}"
    responses = at_once(
        committed_app,
        [
            (
                token,
                "patch",
                {
                    "path": url,
                    "json": {"age": FIRST_AGE + 1 + index, "reason": f"writer {index}"},
                    "headers": {"If-Match": '"1"'},
                },
            )
            for index, token in enumerate(group["tokens"])
        ],
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [412] * (WRITERS - 1), [r.get_json() for r in responses]
    winner = next(r for r in responses if r.status_code == 200).get_json()
    for loser in (r for r in responses if r.status_code == 412):
        assert loser.mimetype == "application/problem+json"
        assert "changed by someone else" in loser.get_json()["detail"]
    member = stored(committed_app, member_id)
    assert member.age == winner["age"] and member.version_id == 2 == winner["version"]
    events = member_events(committed_app, member_id)
    assert len(events) == 1
    assert events[0].changes == {"age": [FIRST_AGE, winner["age"]]}
    assert events[0].reason == f"writer {winner['age'] - FIRST_AGE - 1}"


def test_concurrent_removals_are_recorded_once(committed_app, group):
    member_id = group["members"][1]
    url = f"{group['url']}/{member_id}?reason=left the group"
    responses = at_once(
        committed_app,
        [
            (token, "delete", {"path": url, "headers": {"If-Match": '"1"'}})
            for token in group["tokens"]
        ],
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [204] + [412] * (WRITERS - 1), [r.get_json() for r in responses]
    member = stored(committed_app, member_id)
    assert member.removed_at is not None and member.removed_reason == "left the group"
    events = member_events(committed_app, member_id)
    assert len(events) == 1
    assert set(events[0].changes) == {"removed_at", "removed_reason"}
    assert events[0].changes["removed_at"][0] is None


def test_correction_racing_a_removal(committed_app, group):
    member_id = group["members"][2]
    url = f"{group['url']}/{member_id}"
    seen = {"If-Match": '"1"'}
    tokens = group["tokens"]
    responses = at_once(
        committed_app,
        [
            (
                tokens[0],
                "patch",
                {"path": url, "json": {"age": 55, "reason": "fix"}, "headers": seen},
            ),
            (tokens[1], "delete", {"path": f"{url}?reason=left", "headers": dict(seen)}),
        ],
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses in ([200, 412], [204, 412])
    member = stored(committed_app, member_id)
    events = member_events(committed_app, member_id)
    assert len(events) == 1 and member.version_id == 2
    if statuses[0] == 200:
        assert member.age == 55 and member.removed_at is None
        assert events[0].changes == {"age": [FIRST_AGE, 55]}
    else:
        assert member.age == FIRST_AGE and member.removed_at is not None
