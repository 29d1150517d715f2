"""The Celery task base (runs in an app context, commits at its edge) and queueing
after commit: work is sent to the broker only once the data it needs is committed.

Core sits below ``trialdm.extensions`` (which builds on core): the database and
Celery objects are found through the Flask app."""

from __future__ import annotations

from typing import Any

from celery import Task
from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from trialdm.core.audit import audit_context
from trialdm.core.scoping import all_sites

_PENDING = "trialdm_pending_tasks"
_READY = "trialdm_ready_tasks"
_RUNNING = "trialdm_running_eager_tasks"


class AppTask(Task):
    """Runs inside the Flask app context with every site in scope and commits once
    at the end; on any error everything the task did is rolled back."""

    abstract = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        flask_app = self.app.flask_app  # set by register_celery
        db = flask_app.extensions["sqlalchemy"]
        with flask_app.app_context(), all_sites(), audit_context(source="task"):
            try:
                result = self.run(*args, **kwargs)
                db.session.commit()
            except BaseException:
                db.session.rollback()
                raise
            run_eager_tasks()
            return result


def enqueue(session: Session, task_name: str, *args: Any) -> None:
    """Queue ``task_name(*args)`` to be sent when ``session`` commits (dropped on rollback)."""
    session.info.setdefault(_PENDING, []).append((task_name, args))


def _after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    celery = current_app.extensions["celery"]  # the app's, set by register_celery
    if celery.conf.task_always_eager:
        # No SQL may run inside after_commit; the edge that committed runs them next.
        session.info.setdefault(_READY, []).extend(pending)
        return
    for name, args in pending:
        celery.send_task(name, args=list(args))


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def run_eager_tasks() -> None:
    """Run tasks queued in eager mode (tests, one-off scripts) after the commit."""
    celery = current_app.extensions["celery"]
    db = current_app.extensions["sqlalchemy"]
    ready = db.session.info.get(_READY)
    if not ready or db.session.info.get(_RUNNING):
        # A task run from here commits and calls this again: the loop below goes on
        # with what it queued, instead of one nested call per task.
        return
    celery.loader.import_default_modules()
    db.session.info[_RUNNING] = True
    try:
        while ready:
            name, args = ready.pop(0)
            celery.tasks[name].apply(args=list(args), throw=True)
    finally:
        db.session.info.pop(_RUNNING, None)


def install_task_queueing() -> None:
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", lambda s, t: _after_rollback(s))
