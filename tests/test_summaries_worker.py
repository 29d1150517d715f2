"""A real Celery worker builds a cross-site workbook from a committed database.

The broker is Redis when TRIALDM_TEST_REDIS_URL is set (CI), else the embedded
SQLite transport. The worker is a subprocess started as operators start it
(``celery -A wsgi:celery worker``) with the same settings as the test's app.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from tests.conftest import TEST_REDIS_URL, build_app, reachable
from trialdm.core.scoping import all_sites
from trialdm.extensions import db
from trialdm.participants.operations import create_participant
from trialdm.summaries.models import SummaryJob
from trialdm.summaries.operations import CreateSummaryJob, workbook_path
from trialdm.summaries.registry import table_names

HOSTILE = '=HYPERLINK("http://evil.example","click")'
TIMEOUT = 120  # a safety net for loaded machines; the build itself takes seconds


def _broker(tmp_path: Path) -> str:
    if TEST_REDIS_URL and reachable(TEST_REDIS_URL, 6379):
        return TEST_REDIS_URL
    return f"sqla+sqlite:///{tmp_path / 'broker.db'}"


def _seed() -> None:
    people = [
        ("BU", "female", "intervention", "farmer"),
        ("BU", "male", "control", HOSTILE),
        ("PU", "female", "intervention", "שלום עולם"),
    ]
    with all_sites():
        for site, gender, arm, occupation in people:
            create_participant(
                db.session,
                {
                    "site": site,
                    "category": "service_user",
                    "gender": gender,
                    "year_of_birth": 1985,
                    "enrolment_date": date(2025, 3, 3),
                    "consent_date": date(2025, 3, 1),
                    "consent_version": "1.0",
                    "arm": arm,
                    "occupation": occupation,
                    "diagnoses": [{"code": "F20", "text": None}],
                },
            )
        db.session.commit()


@pytest.mark.celery
def test_real_worker_builds_cross_site_workbook(tmp_path):
    broker = _broker(tmp_path)
    app = build_app(tmp_path, "worker", TASKS_EAGER=False, BROKER_URL=broker)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TRIALDM_")},
        "TRIALDM_INSTANCE_PATH": str(tmp_path / "instance"),
        "TRIALDM_DATABASE_URL": app.config["DATABASE_URL"],
        "TRIALDM_BROKER_URL": broker,
        "TRIALDM_WORKBOOK_DIR": app.config["WORKBOOK_DIR"],
        "TRIALDM_SECRET_KEY": "test-secret",
    }
    root = Path(__file__).resolve().parent.parent
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "wsgi:celery",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        with app.app_context():
            _seed()
            with all_sites():
                job = CreateSummaryJob("all", None, None, "worker test").run(db.session)
                db.session.commit()  # sends the task to the broker
                job_id = job.id
            deadline = time.monotonic() + TIMEOUT
            state = None
            while time.monotonic() < deadline:
                db.session.rollback()
                with all_sites():
                    state = db.session.scalar(
                        select(SummaryJob.state).where(SummaryJob.id == job_id)
                    )
                if state in ("done", "failed") or worker.poll() is not None:
                    break
                time.sleep(0.3)
            with all_sites():
                job = db.session.get(SummaryJob, job_id)
                assert state == "done", f"{state}: {job.error}"
                path = workbook_path(job)
    finally:
        worker.terminate()
        try:
            output, _ = worker.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
        with app.app_context():
            db.engine.dispose()
    assert path.exists(), output
    wb = openpyxl.load_workbook(path)
    with app.app_context():
        names = table_names()
    assert wb.sheetnames[0] == "Cover" and wb.sheetnames[1::2] == names
    assert all(name.endswith(" values") for name in wb.sheetnames[2::2])
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    hostile = [c for c in cells if c.value == HOSTILE]
    assert hostile and all(c.data_type == "s" for c in hostile)
    assert "שלום עולם" in [c.value for c in cells]
    baseline = {r[0].value: r for r in wb["baseline_characteristics"].iter_rows(min_row=5)}
    assert baseline["N"][-1].value == "3"  # the total column, as printed
    values = wb["baseline_characteristics values"]
    percents = [r[5] for r in values.iter_rows(min_row=4) if r[1].value == "Female"]
    percents = [c for c in percents if isinstance(c.value, float)]
    assert percents and all(c.number_format == "0.0%" for c in percents)
