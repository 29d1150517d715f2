"""Extension objects, created unbound; ``create_app`` binds each in ``init_app``."""

from __future__ import annotations

from celery import Celery
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from trialdm.core.models import Base
from trialdm.core.openapi import ProblemApi

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
api = ProblemApi()
login_manager = LoginManager()
csrf = CSRFProtect()
# Page language; bound by the web package (trialdm.web.i18n).
babel = Babel()
limiter = Limiter(key_func=get_remote_address)
# Configured by register_celery(); tasks/ registers its tasks on it by name.
celery = Celery("trialdm", set_as_current=False, task_cls="trialdm.core.tasks:AppTask")
