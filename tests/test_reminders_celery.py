"""A real Celery worker and beat over Redis (subprocesses) deliver a reminder end to
end: beat runs the dispatcher, which queues each site's scan in its time zone; the
scan finds a participant without PSW contact and delivers the reminder; the e-mail
reaches an SMTP server on loopback. Bounded in time; the processes are stopped."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from tests.reminders_helpers import build_separate_app
from tests.test_reminders_mail import FlakyHandler, free_port
from trialdm.auth.operations import create_user
from trialdm.config import PROJECT_ROOT
from trialdm.core.dates import today
from trialdm.core.scoping import all_sites
from trialdm.extensions import db
from trialdm.participants.operations import create_participant

pytestmark = [pytest.mark.redis, pytest.mark.celery]
DEADLINE_SECONDS = 120


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def test_worker_and_beat_deliver_a_reminder(redis_url, tmp_path: Path):
    app = build_separate_app(tmp_path, "reminders_celery")
    database_url = app.config["DATABASE_URL"]
    with app.app_context(), all_sites():
        user = create_user(db.session, "rw.bu@celery.test", "research_worker", ["BU"])
        # the scan counts days at the site (Kampala is a day ahead of UTC after 21:00)
        enrolled = today("Africa/Kampala") - timedelta(days=60)
        participant = create_participant(
            db.session,
            {
                "site": "BU",
                "category": "service_user",
                "gender": "male",
                "year_of_birth": 1980,
                "enrolment_date": enrolled,
                "consent_date": enrolled,
                "consent_version": "1.0",
                "arm": "intervention",
            },
        )
        study_id, email = participant.study_id, user.email
        db.session.commit()
        db.engine.dispose()

    handler = FlakyHandler(failures=0)
    port = free_port()
    smtp = Controller(handler, hostname="127.0.0.1", port=port)
    smtp.start()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TRIALDM_")},
        "TRIALDM_DATABASE_URL": database_url,
        "TRIALDM_BROKER_URL": redis_url,
        "TRIALDM_CELERY_QUEUE": f"test-reminders-{uuid.uuid4().hex[:8]}",
        "TRIALDM_INSTANCE_PATH": str(tmp_path / "instance"),
        "TRIALDM_SECRET_KEY": "celery-test",
        "TRIALDM_SMTP_HOST": "127.0.0.1",
        "TRIALDM_SMTP_PORT": str(port),
        "TRIALDM_REMINDER_BEAT_SECONDS": "1",
        "TRIALDM_REMINDER_LOCAL_TIME": "00:00",  # every site's scan is due now
    }
    celery_bin = str(Path(sys.executable).parent / "celery")
    common = {
        "cwd": PROJECT_ROOT,
        "env": env,
        "stdout": subprocess.PIPE,
        "stderr": subprocess.STDOUT,
    }
    logs = tmp_path / "celery.log"
    with logs.open("wb") as log:
        common.update(stdout=log)
        worker = subprocess.Popen(
            [
                celery_bin,
                "-A",
                "wsgi:celery",
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                "-Q",
                env["TRIALDM_CELERY_QUEUE"],
                "--without-mingle",
                "--without-gossip",
            ],
            **common,
        )
        beat = subprocess.Popen(
            [
                celery_bin,
                "-A",
                "wsgi:celery",
                "beat",
                "--loglevel=INFO",
                "--schedule",
                str(tmp_path / "beat-schedule"),
            ],
            **common,
        )
        try:
            deadline = time.monotonic() + DEADLINE_SECONDS
            while not handler.received and time.monotonic() < deadline:
                assert worker.poll() is None and beat.poll() is None, "a Celery process died"
                time.sleep(0.5)
            time.sleep(3)  # a few more beats: nothing may be sent twice
        finally:
            stop(beat)
            stop(worker)
            smtp.stop()
    output = logs.read_text(errors="replace")
    assert handler.received, f"no e-mail within {DEADLINE_SECONDS} s:\n{output[-4000:]}"
    # Enrolled 60 days ago and never contacted: silent for 60 days, and at risk (the
    # intervention window opened at enrolment). One e-mail each, none sent twice.
    mails = handler.received
    assert all(f"To: {email}" in mail for mail in mails)
    assert any(f"{study_id}: no PSW contact for 60 days" in mail for mail in mails)

    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        scanned = conn.execute(sa.text("SELECT site_code FROM reminder_scan_runs")).scalars()
        assert "BU" in set(scanned)
        statuses = conn.execute(
            sa.text("SELECT rule, status FROM reminders WHERE site_code = 'BU'")
        ).all()
        assert {("psw_no_contact", "delivered"), ("psw_at_risk", "delivered")} <= set(statuses)
        sent = conn.execute(sa.text("SELECT status FROM reminder_outbox")).scalars().all()
        assert sent == ["sent"] * len(mails), statuses
    engine.dispose()
