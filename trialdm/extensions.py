"""Extension objects, created unbound; ``create_app`` binds each in ``init_app``.

The web-only ones (the API and its documentation, migrations, CSRF, rate limits) are
created on first use: a worker (``create_app(web=False)``) never touches them, so it
does not import Alembic, WTForms or the limits package (about 15 MB of a worker's
memory), nor flask-smorest, apispec and webargs (about 1 MB).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from celery import Celery
from flask_babel import Babel
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy

from trialdm.core.models import Base

if TYPE_CHECKING:
    from flask_limiter import Limiter
    from flask_migrate import Migrate
    from flask_wtf import CSRFProtect

    from trialdm.core.openapi import ProblemApi

    api: ProblemApi
    migrate: Migrate
    csrf: CSRFProtect
    limiter: Limiter

db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
# Page language; bound by create_app (trialdm.web.i18n.init_babel).
babel = Babel()
# Configured by register_celery(); tasks/ registers its tasks on it by name.
celery = Celery("trialdm", set_as_current=False, task_cls="trialdm.core.tasks:AppTask")


def _make_api() -> Any:
    from trialdm.core.openapi import ProblemApi

    return ProblemApi()


def _make_migrate() -> Any:
    from flask_migrate import Migrate

    return Migrate()


def _make_csrf() -> Any:
    from flask_wtf import CSRFProtect

    return CSRFProtect()


def _make_limiter() -> Any:
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address

    return Limiter(key_func=get_remote_address)


_WEB_ONLY = {
    "api": _make_api,
    "migrate": _make_migrate,
    "csrf": _make_csrf,
    "limiter": _make_limiter,
}


def __getattr__(name: str) -> Any:
    """``api``, ``migrate``, ``csrf`` and ``limiter``: made once, when first asked for."""
    make = _WEB_ONLY.get(name)
    if make is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = globals()[name] = make()
    return value
