"""``trialdm check`` (monitoring), ``/healthz`` and ``/readyz``, heartbeats of a real
worker and beat, and JSON logs."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import event, select, update

from tests.conftest import TEST_REDIS_URL, build_app, reachable
from trialdm.config import shipped
from trialdm.core.audit import AuditEvent
from trialdm.core.models import utcnow
from trialdm.extensions import db
from trialdm.maintenance.models import ServiceHeartbeat
from trialdm.maintenance.operations import BEAT, WORKER, record_heartbeat
from trialdm.maintenance.restore import head_revision

TIMEOUT = 120  # a safety net for loaded machines
HEAD = head_revision(shipped("migrations"))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_check(app, *args: str) -> tuple[int, dict]:
    result = app.test_cli_runner().invoke(args=["check", "--json", "--timeout", "1", *args])
    assert result.output.startswith("{"), (result.output, result.exception)
    return result.exit_code, json.loads(result.output)


def by_name(body: dict) -> dict[str, dict]:
    return {check["name"]: check for check in body["checks"]}


def test_check_passes_when_everything_answers_and_is_audited(app, db_session, monkeypatch):
    record_heartbeat(db_session, BEAT)
    db_session.commit()
    # memory:// cannot reach a worker process; the embedded broker's heartbeat stands in.
    monkeypatch.setitem(app.config, "BROKER_URL", "sqla+sqlite:///" + app.instance_path + "/b.db")
    record_heartbeat(db_session, WORKER)
    db_session.commit()
    code, body = run_check(app)
    assert code == 0, body
    assert body["ok"] is True and body["failed"] == []
    checks = by_name(body)
    assert list(checks) == ["settings", "database", "broker", "worker", "beat", "mail"]
    assert f"at head {HEAD}" in checks["database"]["detail"]
    assert checks["mail"]["detail"] == "not configured (e-mail stays in the outbox)"
    event_row = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "check").order_by(AuditEvent.id.desc())
    ).first()
    assert (event_row.source, event_row.changes) == ("cli", {"failed": []})


def test_check_names_what_failed_and_exits_non_zero(app, db_session, monkeypatch):
    port = closed_port()
    monkeypatch.setitem(app.config, "BROKER_URL", f"redis://:secret@127.0.0.1:{port}/0")
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", port)
    code, body = run_check(app, "--skip", "worker")
    assert code == 1
    assert body["failed"] == ["broker", "beat", "mail"]
    checks = by_name(body)
    assert checks["broker"]["detail"].startswith(f"redis://127.0.0.1:{port}/0 unreachable")
    assert "secret" not in json.dumps(body)
    assert checks["beat"]["detail"] == "no heartbeat recorded yet"
    assert checks["mail"]["detail"].startswith(f"127.0.0.1:{port} unreachable")
    assert "worker" not in checks
    text = app.test_cli_runner().invoke(args=["check", "--timeout", "1", "--skip", "worker"])
    assert text.exit_code == 1
    assert "FAIL broker" in text.output and "ok   database" in text.output
    assert "failed: broker, beat, mail" in text.output


def test_a_stale_beat_heartbeat_fails_and_names_its_age(app, db_session):
    record_heartbeat(db_session, BEAT)
    limit = 3 * app.config["HEARTBEAT_SECONDS"]
    db_session.execute(
        update(ServiceHeartbeat)
        .where(ServiceHeartbeat.name == BEAT)
        .values(at=utcnow() - timedelta(seconds=limit + 60))
    )
    db_session.commit()
    code, body = run_check(app, "--skip", "worker", "--skip", "broker")
    assert code == 1 and body["failed"] == ["beat"]
    assert f"(limit {limit} s)" in by_name(body)["beat"]["detail"]
    assert by_name(body)["beat"]["detail"].startswith(f"last heartbeat {limit + 60}")


def test_worker_check_pings_over_a_broker_that_broadcasts(app, db_session):
    # memory:// broadcasts, and no worker listens on it: the ping gets no answer.
    code, body = run_check(app, "--skip", "beat")
    assert code == 1 and body["failed"] == ["worker"]
    assert by_name(body)["worker"]["detail"] == "no worker answered a ping within 1 s"


def test_check_of_a_database_not_migrated(tmp_path):
    from tests.conftest import make_database_url
    from tests.conftest import test_settings as settings_for
    from trialdm import create_app

    app = create_app(
        settings_for(tmp_path, make_database_url(tmp_path, "check_empty")),
        environ={"TRIALDM_INSTANCE_PATH": str(tmp_path / "instance")},
    )
    code, body = run_check(app, "--skip", "worker", "--skip", "beat")
    assert code == 1 and body["failed"] == ["database"]
    assert by_name(body)["database"]["detail"] == (
        f"at revision None, head is {HEAD} (run 'trialdm db upgrade')"
    )


def test_mail_check_greets_a_real_smtp_server(app, db_session, monkeypatch):
    class Accept:
        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    port = closed_port()
    controller = Controller(Accept(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
        monkeypatch.setitem(app.config, "SMTP_PORT", port)
        code, body = run_check(app, "--skip", "worker", "--skip", "beat")
    finally:
        controller.stop()
    assert code == 0, body
    assert by_name(body)["mail"]["detail"] == f"127.0.0.1:{port} answered"


def test_healthz_answers_without_touching_the_database(app, client):
    statements = []

    def count(*args, **kwargs):
        statements.append(args[2])

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get("/healthz")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200
    assert response.json == {"status": "alive"}
    assert statements == []


def test_readyz_reports_database_and_broker_without_secrets(app, client, monkeypatch):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ready", "checks": {"database": "ok", "broker": "ok"}}
    port = closed_port()
    monkeypatch.setitem(app.config, "BROKER_URL", f"redis://:secret@127.0.0.1:{port}/0")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json == {
        "status": "not ready",
        "checks": {"database": "ok", "broker": "unreachable"},
    }
    assert str(port) not in response.get_data(as_text=True)


def test_json_logs_carry_time_level_logger_message_and_request_id(app, client, monkeypatch):
    from trialdm.core.logs import configure_logging

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    monkeypatch.setattr(logging.getLogger(), "handlers", [handler])
    configure_logging("INFO", "json")
    with app.test_request_context("/"):
        from flask import g

        g.request_id = "req-42"
        logging.getLogger("trialdm.test").info("saved %s", "participant BU-0001")
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["level"] == "INFO"
    assert line["logger"] == "trialdm.test"
    assert line["message"] == "saved participant BU-0001"
    assert line["request_id"] == "req-42"
    assert line["time"].startswith(str(utcnow().year))


def _broker(tmp_path: Path) -> str:
    if TEST_REDIS_URL and reachable(TEST_REDIS_URL, 6379):
        return TEST_REDIS_URL
    return f"sqla+sqlite:///{tmp_path / 'broker.db'}"


def _celery(role: str, env: dict[str, str], tmp_path: Path) -> subprocess.Popen:
    extra = (
        ["--pool", "solo", "--without-gossip", "--without-mingle"]
        if role == "worker"
        else ["--schedule", str(tmp_path / "celerybeat-schedule")]
    )
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "trialdm.wsgi:celery", role, "-l", "INFO", *extra],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _stop(process: subprocess.Popen) -> str:
    if process.stdout is None or process.stdout.closed:  # stopped and read already
        return ""
    process.terminate()
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output


@pytest.mark.celery
def test_real_worker_and_beat_pass_the_check_and_a_stopped_beat_fails_it(tmp_path):
    broker = _broker(tmp_path)
    app = build_app(tmp_path, "check_live", TASKS_EAGER=False, BROKER_URL=broker)
    app.config["HEARTBEAT_SECONDS"] = 1
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TRIALDM_")},
        "TRIALDM_INSTANCE_PATH": str(tmp_path / "instance"),
        "TRIALDM_DATABASE_URL": app.config["DATABASE_URL"],
        "TRIALDM_BROKER_URL": broker,
        "TRIALDM_SECRET_KEY": "test-secret",
        "TRIALDM_HEARTBEAT_SECONDS": "1",
        "TRIALDM_LOG_FORMAT": "json",
        "TRIALDM_CELERY_QUEUE": f"check-{tmp_path.name}",
    }
    app.config["CELERY_QUEUE"] = env["TRIALDM_CELERY_QUEUE"]
    if broker.startswith("sqla+"):
        # The embedded broker's tables and queue row are created by whichever process
        # comes first; a worker and beat started together can both try (a unique key or
        # "table exists" error in one of them). Made here first, they find them.
        with app.extensions["celery"].connection_for_write() as connection:
            connection.default_channel.queue_declare(queue=app.config["CELERY_QUEUE"])
    worker = _celery("worker", env, tmp_path)
    beat = _celery("beat", env, tmp_path)
    try:
        deadline = time.monotonic() + TIMEOUT
        body: dict = {}
        while time.monotonic() < deadline and worker.poll() is None and beat.poll() is None:
            code, body = run_check(app, "--skip", "mail")
            if code == 0:
                break
            time.sleep(1)
        if body.get("ok") is not True:
            # say why: a process that ended, or one still waiting for its first tick
            ended = {p.args[5]: p.returncode for p in (worker, beat) if p.poll() is not None}
            outputs = {p.args[5]: _stop(p)[-2000:] for p in (worker, beat)}
            pytest.fail(f"check not ok: {body}; ended: {ended}; output: {outputs}")
        assert by_name(body)["beat"]["detail"].startswith("heartbeat ")
    finally:
        beat_output = _stop(beat)
    time.sleep(3.5)  # more than 3 intervals of 1 s without a beat tick
    code, body = run_check(app, "--skip", "mail")
    worker_output = _stop(worker)
    # The embedded broker cannot broadcast a ping: there the worker's liveness is its
    # heartbeat, which beat's task brings, so it goes stale with beat.
    expected = ["beat"] if broker.startswith("redis") else ["worker", "beat"]
    assert code == 1 and body["failed"] == expected, (body, worker_output[-3000:])
    assert "last heartbeat" in by_name(body)["beat"]["detail"]
    # The worker's and beat's log lines are JSON objects, one per line.
    lines = [json.loads(line) for line in worker_output.splitlines() if line.startswith("{")]
    assert any(line["logger"].startswith("celery") for line in lines), worker_output
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    assert any(line.startswith("{") for line in beat_output.splitlines()), beat_output
