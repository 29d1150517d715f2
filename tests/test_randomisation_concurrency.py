"""Research workers randomising at the same moment (threads, each request in its own
session and transaction, on a committed database; PostgreSQL when
TRIALDM_TEST_DATABASE_URL is set): no list position is handed out twice and none is
skipped."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select

from tests.randomisation_helpers import GENDER_SCHEME, eligible_participant
from tests.reminders_helpers import build_separate_app
from trialdm.auth.operations import create_token, create_user
from trialdm.core.scoping import all_sites
from trialdm.extensions import db
from trialdm.randomisation.models import Randomisation

WORKERS = 6
PER_WORKER = 5


@pytest.fixture(scope="module")
def committed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, list, list]]:
    folder = tmp_path_factory.mktemp("randomisation_concurrency")
    scheme = folder / "scheme.toml"
    scheme.write_text(GENDER_SCHEME % 60, encoding="utf-8")
    app = build_separate_app(
        folder,
        "randomisation_concurrency",
        RANDOMISATION="service",
        RANDOMISATION_SCHEME=str(scheme),
    )
    with app.app_context(), all_sites():
        session = db.session
        tokens = []
        for index in range(WORKERS):
            user = create_user(session, f"rw.{index}@concurrency.test", "research_worker", ["BU"])
            tokens.append(create_token(session, user, "test")[1])
        statistician = create_user(session, "stats@concurrency.test", "statistician", [])
        tokens.append(create_token(session, statistician, "test")[1])
        ids = [eligible_participant(session).id for _ in range(WORKERS * PER_WORKER)]
        session.commit()
    yield app, tokens, ids
    with app.app_context():
        db.engine.dispose()


def test_simultaneous_randomisations_get_distinct_positions(committed_app):
    app, tokens, ids = committed_app
    client = app.test_client()
    made = client.post(
        "/api/v1/randomisation/lists", headers={"Authorization": f"Bearer {tokens[-1]}"}
    )
    assert made.status_code == 201, made.json
    for token in tokens:
        # A token's first use is recorded (a write of its own): done before the race.
        client.get("/api/v1/sites", headers={"Authorization": f"Bearer {token}"})
    barrier = threading.Barrier(WORKERS)
    statuses: list[int] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        own = app.test_client()
        barrier.wait(timeout=30)
        for participant_id in ids[index::WORKERS]:
            response = own.post(
                f"/api/v1/participants/{participant_id}/randomisation",
                headers={"Authorization": f"Bearer {tokens[index]}"},
            )
            with lock:
                statuses.append(response.status_code)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert statuses == [201] * len(ids)
    with app.app_context(), all_sites():
        positions = db.session.scalars(
            select(Randomisation.position).where(Randomisation.stratum == "gender=female")
        ).all()
    assert Counter(positions).most_common(1)[0][1] == 1
    assert sorted(positions) == list(range(1, len(ids) + 1))
