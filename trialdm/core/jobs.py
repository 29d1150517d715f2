"""Leases for background jobs whose row is the source of truth (summaries, exports,
imports): claim, re-queue a dead worker's job, give up after a number of attempts.

Every change of a job's state here is one conditional UPDATE whose WHERE repeats
what the caller saw, so that a late worker (a message redelivered after its
worker died), a duplicate delivery and the reconciler can interleave in any order
and the job's attempts still never exceed the maximum: the attempt counter only
grows inside the claim, and the claim refuses a job that has used its attempts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from trialdm.core.errors import DomainError
from trialdm.core.models import utcnow
from trialdm.core.scoping import EVERY_SITE, scoped_to
from trialdm.core.tasks import enqueue


@dataclass(frozen=True)
class Lease:
    """How long a running job's heartbeat holds it and how many starts it gets."""

    seconds: int
    max_attempts: int

    def start(self, now: datetime) -> datetime:
        return now - timedelta(seconds=self.seconds)


def job_lease() -> Lease:
    """The lease of every background job (summaries, exports, imports), from settings."""
    config = current_app.config
    return Lease(config["SUMMARY_LEASE_SECONDS"], config["SUMMARY_MAX_ATTEMPTS"])


@dataclass(frozen=True)
class FailureTexts:
    """What a failed job tells the person who asked for it, by kind of failure: the
    database (``database``), a file (``file``, may name ``{reason}``) or anything else
    (``unexpected``, names ``{error}``). A domain error says its own detail."""

    database: str
    file: str
    unexpected: str

    def describe(self, exc: BaseException) -> str:
        if isinstance(exc, DomainError):
            return exc.detail
        if isinstance(exc, OperationalError):
            return self.database
        if isinstance(exc, OSError):
            return self.file.format(reason=exc.strerror or exc)
        return self.unexpected.format(error=f"{type(exc).__name__}: {exc}")


def _claimable(model: Any, lease: Lease, now: datetime):
    return and_(
        model.attempts < lease.max_attempts,
        or_(
            model.state == "queued",
            and_(
                model.state == "running",
                or_(model.heartbeat_at.is_(None), model.heartbeat_at < lease.start(now)),
            ),
        ),
    )


def claim_job(session: Session, model: Any, job_id: int, lease: Lease) -> bool:
    """Take the job if it is queued or its last worker's lease has run out, and it
    has attempts left; commits so that other workers see the claim at once."""
    now = utcnow()
    claimed = session.execute(
        update(model)
        .where(model.id == job_id, _claimable(model, lease, now))
        .values(
            state="running",
            progress=0,
            step="Starting",
            error=None,
            heartbeat_at=now,
            started_at=now,
            attempts=model.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return claimed.rowcount == 1


def reconcile_jobs(
    session: Session,
    model: Any,
    lease: Lease,
    task_name: str,
    exhausted: Callable[[int], str],
    now: datetime | None = None,
) -> list[int]:
    """Re-queue jobs whose worker died (lease expired) or whose message was lost;
    fail those that used every attempt with the readable ``exhausted(attempts)``.

    Each change is conditional on the state and heartbeat read here, so a worker
    that claims the job meanwhile keeps it (the reconciler's write then matches
    no row and nothing is queued)."""
    now = now or utcnow()
    stale = lease.start(now)
    jobs = session.execute(
        select(model.id, model.state, model.heartbeat_at, model.attempts)
        .where(
            model.state.in_(("queued", "running")),
            or_(model.heartbeat_at.is_(None), model.heartbeat_at < stale),
        )
        .with_for_update(skip_locked=True)
    ).all()
    requeued = []
    for job_id, state, heartbeat_at, attempts in jobs:
        unchanged = and_(
            model.id == job_id,
            model.state == state,
            model.attempts == attempts,
            model.heartbeat_at.is_(None)
            if heartbeat_at is None
            else model.heartbeat_at == heartbeat_at,
        )
        if attempts >= lease.max_attempts:
            values: dict[str, Any] = {
                "state": "failed",
                "step": "Failed",
                "finished_at": now,
                "error": exhausted(attempts),
            }
        else:
            step = "Re-queued: the previous worker stopped" if state == "running" else "Re-queued"
            values = {"state": "queued", "step": step, "heartbeat_at": now}
        changed = session.execute(
            update(model)
            .where(unchanged)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount == 1 and values["state"] == "queued":
            enqueue(session, task_name, job_id)
            requeued.append(job_id)
    session.expire_all()
    return requeued


class JobProgress:
    """A job's progress and heartbeat, written at each step (between pieces of work,
    never in the middle of one) so that the API and the reconciler see them.

    By default each step commits the caller's session. With ``own_transaction`` it is
    written in a short transaction of its own on another connection, and the caller's
    session (still reading, e.g. a build's temporary tables) is left alone: the work
    commits once, at its edge.

    With ``every`` (seconds) a step is written only when that long has passed since
    the last one written (the claim's write, just before, counts as the first); the
    steps between are counted, not written. A build of a second then writes no step
    a person polling its state would have seen, and none of its transactions."""

    def __init__(
        self,
        session: Session,
        model: Any,
        job_id: int,
        steps: int,
        listener: Callable[[int, str], None] | None = None,
        *,
        own_transaction: bool = False,
        every: float = 0.0,
    ) -> None:
        self.session = session
        self.model = model
        self.job_id = job_id
        self.steps = max(steps, 1)
        self.done = 0
        self.listener = listener
        self.own_transaction = own_transaction
        self.every = every
        self.written = time.monotonic()

    def __call__(self, step: str, advance: bool = True) -> None:
        percent = min(99, int(100 * self.done / self.steps))
        if advance:
            self.done += 1
        if self.listener is not None:
            self.listener(percent, step)
        if self.every:
            now = time.monotonic()
            if now - self.written < self.every:
                return
            self.written = now
        statement = (
            update(self.model)
            .where(self.model.id == self.job_id)
            .values(progress=percent, step=step[:200], heartbeat_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        bind = self.session.get_bind()
        if self.own_transaction and isinstance(bind, Engine):
            with bind.begin() as connection:
                connection.execute(statement)
            return
        with scoped_to(EVERY_SITE):
            self.session.execute(statement)
        self.session.commit()


def job_file_stem(job: Any, *what: str) -> str:
    """``<trial>-<what…>-<scope>-<day the data was read>-job<id>``: the name of a job's
    download, the same shape for every kind of job."""
    trial = current_app.config["TRIAL_NAME"].replace(" ", "_")
    day = (job.data_read_at or job.created_at or utcnow()).date().isoformat()
    return "-".join((trial, what[0], job.scope, *what[1:], day, f"job{job.id}"))
