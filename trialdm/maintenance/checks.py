"""What ``trialdm check`` and ``/readyz`` look at. Each check answers ok or not with
a short detail that names no secret (no URL with a password, no exception dump)."""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from celery import Celery
from flask import Flask
from kombu import Connection as BrokerConnection
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from trialdm.config import shipped
from trialdm.maintenance.archive import STORED_FILE_SETTINGS
from trialdm.maintenance.operations import BEAT, STALE_AFTER_INTERVALS, WORKER, last_heartbeat
from trialdm.maintenance.restore import current_revision, head_revision


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


def _where(url: str) -> str:
    """host:port/database of a URL, without user or password."""
    parsed = make_url(url)
    host = f"{parsed.host or ''}{f':{parsed.port}' if parsed.port else ''}"
    return f"{parsed.drivername}://{host}/{parsed.database or ''}"


def check_settings(app: Flask) -> CheckResult:
    # The app exists, so every TRIALDM_* value parsed; what is left is the folders.
    problems = []
    for name in STORED_FILE_SETTINGS:
        folder = app.config.get(name)
        if not folder:
            continue
        path = Path(folder)
        try:
            path.mkdir(parents=True, exist_ok=True)
            probe = path / ".trialdm-check"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            problems.append(f"{name} {path} is not writable ({exc.strerror})")
    if problems:
        return CheckResult("settings", False, "; ".join(problems))
    return CheckResult("settings", True, "valid; file folders writable")


def check_database(session: Session) -> CheckResult:
    head = head_revision(shipped("migrations"))
    where = _where(str(session.get_bind().engine.url))
    try:
        conn = session.connection()
        conn.scalar(select(1))
        revision = current_revision(conn)
    except Exception as exc:
        session.rollback()
        return CheckResult("database", False, f"{where} unreachable ({type(exc).__name__})")
    if revision != head:
        return CheckResult(
            "database",
            False,
            f"at revision {revision}, head is {head} (run 'trialdm db upgrade')",
        )
    return CheckResult("database", True, f"{where} at head {head}")


def check_broker(url: str, timeout: float) -> CheckResult:
    try:
        with BrokerConnection(url, connect_timeout=timeout) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
    except Exception as exc:
        return CheckResult("broker", False, f"{_where(url)} unreachable ({type(exc).__name__})")
    return CheckResult("broker", True, f"{_where(url)} reachable")


def _age(at: datetime) -> float:
    if at.tzinfo is None:  # SQLite gives back naive UTC
        at = at.replace(tzinfo=UTC)
    return (datetime.now(UTC) - at).total_seconds()


def _heartbeat(session: Session, name: str, interval: int, label: str) -> CheckResult:
    limit = STALE_AFTER_INTERVALS * interval
    try:
        found = last_heartbeat(session, name)
    except Exception as exc:
        session.rollback()
        return CheckResult(label, False, f"heartbeat unreadable ({type(exc).__name__})")
    if found is None:
        return CheckResult(label, False, "no heartbeat recorded yet")
    at, by = found
    age = _age(at)
    if age > limit:
        return CheckResult(
            label, False, f"last heartbeat {age:.0f} s ago by {by} (limit {limit} s)"
        )
    return CheckResult(label, True, f"heartbeat {age:.0f} s ago by {by}")


def check_worker(app: Flask, session: Session, timeout: float) -> CheckResult:
    celery = app.extensions["celery"]
    with BrokerConnection(app.config["BROKER_URL"]) as conn:
        can_broadcast = "fanout" in conn.transport.implements.exchange_type
    if not can_broadcast:
        # The embedded broker cannot broadcast a ping: the worker's heartbeat stands in.
        result = _heartbeat(session, WORKER, app.config["HEARTBEAT_SECONDS"], "worker")
        if result.ok:
            return result
        return CheckResult(
            "worker",
            False,
            f"{result.detail} (the embedded broker cannot ping workers; their heartbeat "
            "comes from beat's task, so this fails while beat is down too)",
        )
    # A Celery object of its own: the app's one keeps a producer pool of the broker it
    # first talked to, and the ping must go where this app's settings point.
    probe = Celery("trialdm-check", broker=app.config["BROKER_URL"], set_as_current=False)
    probe.conf.broker_transport_options = celery.conf.broker_transport_options
    try:
        replies = probe.control.ping(timeout=timeout)
    except Exception as exc:
        return CheckResult("worker", False, f"ping failed ({type(exc).__name__})")
    finally:
        probe.close()
    names = sorted({name for reply in replies for name in reply})
    if not names:
        return CheckResult("worker", False, f"no worker answered a ping within {timeout:g} s")
    return CheckResult("worker", True, f"{len(replies)} answered: {', '.join(names)}")


def check_beat(app: Flask, session: Session) -> CheckResult:
    return _heartbeat(session, BEAT, app.config["HEARTBEAT_SECONDS"], "beat")


def check_mail(config: Mapping[str, Any], timeout: float) -> CheckResult:
    host = config["SMTP_HOST"]
    if not host:
        return CheckResult("mail", True, "not configured (e-mail stays in the outbox)")
    where = f"{host}:{config['SMTP_PORT']}"
    try:
        smtp_class = smtplib.SMTP_SSL if config["SMTP_TLS"] == "ssl" else smtplib.SMTP
        with smtp_class(host, config["SMTP_PORT"], timeout=timeout) as smtp:
            smtp.ehlo()
            if config["SMTP_TLS"] == "starttls":
                smtp.starttls()
                smtp.ehlo()
            if config["SMTP_USER"]:
                smtp.login(config["SMTP_USER"], config["SMTP_PASSWORD"])
            smtp.noop()
    except smtplib.SMTPAuthenticationError:
        return CheckResult("mail", False, f"{where} refused the SMTP user's login")
    except (OSError, smtplib.SMTPException) as exc:
        return CheckResult("mail", False, f"{where} unreachable ({type(exc).__name__})")
    return CheckResult("mail", True, f"{where} answered")


def run_checks(app: Flask, timeout: float, skip: set[str]) -> list[CheckResult]:
    from trialdm.extensions import db

    checks: dict[str, Callable[[], CheckResult]] = {
        "settings": lambda: check_settings(app),
        "database": lambda: check_database(db.session),
        "broker": lambda: check_broker(app.config["BROKER_URL"], timeout),
        "worker": lambda: check_worker(app, db.session, timeout),
        "beat": lambda: check_beat(app, db.session),
        "mail": lambda: check_mail(app.config, timeout),
    }
    return [run() for name, run in checks.items() if name not in skip]


def readiness(app: Flask, timeout: float) -> list[CheckResult]:
    """What a load balancer needs before sending requests: database and broker."""
    from trialdm.extensions import db

    return [check_database(db.session), check_broker(app.config["BROKER_URL"], timeout)]
