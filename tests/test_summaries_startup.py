"""A worker compiles the statements of a cross-site summary build at start-up
(:func:`trialdm.summaries.startup.prepare_summary_builds`): its first build finds
them compiled but its job's two writes and the chart's read, and the start-up writes
nothing and keeps no connection for the processes it forks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, func, select
from sqlalchemy.engine.interfaces import CacheStats

from tasks.summaries import run_build
from tests.reminders_helpers import build_separate_app
from trialdm.core.scoping import all_sites
from trialdm.extensions import db
from trialdm.participants.models import Participant
from trialdm.participants.operations import create_participant
from trialdm.summaries import operations
from trialdm.summaries.registry import specs
from trialdm.summaries.startup import prepare_summary_builds


@pytest.fixture(scope="module")
def fresh_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """An app with an engine of its own: its statement cache starts empty, as a new
    worker's does."""
    app = build_separate_app(tmp_path_factory.mktemp("summaries_startup"), "summary_start")
    with app.app_context(), all_sites():
        for site in ("BU", "ULM"):
            create_participant(
                db.session,
                {
                    "site": site,
                    "category": "service_user",
                    "gender": "female",
                    "year_of_birth": 1990,
                    "enrolment_date": date(2025, 4, 2),
                    "consent_date": date(2025, 4, 2),
                    "consent_version": "1.0",
                    "arm": "intervention",
                },
            )
        db.session.commit()
    yield app
    with app.app_context():
        db.engine.dispose()


def _compiled_statements(app: Flask) -> list[tuple[Any, str]]:
    """Build the cross-site workbook: (cache use, statement) of each statement it
    sent that SQLAlchemy compiles (not the SQL text)."""
    found: list[tuple[Any, str]] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many) -> None:
        if context.compiled is not None:
            found.append((context.cache_hit, statement))

    with app.app_context(), all_sites():
        session = db.session
        job = operations.CreateSummaryJob("all", None, None, "test").run(session)
        session.info.pop("trialdm_pending_tasks", None)
        session.commit()
        job_id = job.id  # read back after the commit: a statement of the test's own
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            assert run_build(session, job_id) == "done"
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
            session.remove()
    return found


def test_a_worker_compiles_the_build_s_statements_at_start(fresh_app):
    with fresh_app.app_context(), all_sites():
        before = db.session.scalar(select(func.count()).select_from(Participant))
        db.session.remove()
        tables = len(specs())
    assert prepare_summary_builds(fresh_app) == tables
    with fresh_app.app_context(), all_sites():
        assert db.engine.pool.checkedin() == 0  # nothing left for a forked child to share
        assert db.session.scalar(select(func.count()).select_from(Participant)) == before
        db.session.remove()
    sent = _compiled_statements(fresh_app)
    hits = [s for hit, s in sent if hit == CacheStats.CACHE_HIT]
    assert len([s for s in hits if s.startswith("INSERT INTO summary_")]) == tables
    assert len([s for s in hits if s.startswith("SELECT summary_jobs.")]) >= 2
    missed = [s for hit, s in sent if hit != CacheStats.CACHE_HIT]
    # Left to the first build: the claim, the job's final write, the chart's read.
    assert len([s for s in missed if s.startswith("UPDATE summary_jobs")]) == 2
    [chart] = [s for s in missed if not s.startswith("UPDATE")]
    assert "FROM participants" in chart and "population" not in chart
