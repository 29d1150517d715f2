"""What every ``trialdm`` command shares: one transaction with every site in scope,
``cli`` as the audit source, and a domain error as a clear message (exit 1) with
nothing saved. Each domain keeps its commands in its own ``cli.py``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from trialdm.core.audit import audit_context
from trialdm.core.errors import DomainError
from trialdm.core.scoping import all_sites
from trialdm.core.tasks import run_eager_tasks


def format_domain_error(exc: DomainError) -> str:
    lines = [exc.detail]
    for field, messages in exc.errors.items():
        for message in messages if isinstance(messages, list) else [messages]:
            lines.append(f"  {field}: {message}")
    return "\n".join(lines)


def transactional(func: Callable) -> Callable:
    """Run a command as one transaction with every site in scope."""

    @functools.wraps(func)
    @with_appcontext
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        db = current_app.extensions["sqlalchemy"]
        with all_sites(), audit_context(source="cli"):
            try:
                result = func(*args, **kwargs)
                db.session.commit()
            except DomainError as exc:
                db.session.rollback()
                raise click.ClickException(format_domain_error(exc)) from None
            except BaseException:
                db.session.rollback()
                raise
            run_eager_tasks()
            return result

    return wrapper
