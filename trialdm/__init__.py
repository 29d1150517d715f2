"""trialdm: data management for multi-site mental-health trials."""

from __future__ import annotations

import importlib.util
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from trialdm.config import default_instance_path, load_settings, shipped

__version__ = "0.1.0"

# Domains with an HTTP API, in the order their blueprints are registered.
API_MODULES = (
    "sites",
    "auth",
    "participants",
    "contacts",
    "qualitative",
    "instruments",
    "schedule",
    "audit",
    "translation",
    "screening",
    "summaries",
    "reminders",
    "exports",
    "randomisation",
    "selfreport",
    "quality",
)
# Domains with pages.
VIEW_MODULES = (
    "web",
    "participants",
    "contacts",
    "qualitative",
    "instruments",
    "translation",
    "summaries",
    "reminders",
    "audit",
    "exports",
    "randomisation",
    "schedule",
    "selfreport",
    "maintenance",
    "quality",
)


def create_app(
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    web: bool = True,
) -> Flask:
    """The application. ``web=False`` leaves out the API, the pages and the CLI (their
    modules are a third of the start-up memory) for a process that only runs
    operations, e.g. a summary build; it cannot serve requests or build URLs."""
    environ = os.environ if environ is None else environ
    instance = Path(environ.get("TRIALDM_INSTANCE_PATH") or default_instance_path())
    app = Flask(__name__, instance_path=str(instance.resolve()))
    register_config(app, environ, overrides)
    register_logging(app)
    register_extensions(app, web)
    register_language(app)
    register_mechanisms(app)
    register_domain_hooks(app)
    register_trial_definitions(app)
    if web:
        register_blueprints(app)
        register_cli(app)
    register_celery(app)
    register_checks(app)
    return app


def register_config(
    app: Flask, environ: Mapping[str, str], overrides: Mapping[str, Any] | None
) -> None:
    settings = load_settings(environ, overrides, Path(app.instance_path))
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not settings["SECRET_KEY"]:
        settings["SECRET_KEY"] = _instance_secret(Path(app.instance_path))
    app.config.update(settings)
    database_url = settings["DATABASE_URL"]
    https = settings["SESSION_COOKIE_SECURE"] or settings["BASE_URL"].lower().startswith("https://")
    if settings["PROXY_COUNT"]:
        # Behind a proxy the client's address, scheme and host come from X-Forwarded-*;
        # without this every user shares the proxy's address (one login throttle for all).
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    app.config.update(
        SQLALCHEMY_DATABASE_URI=database_url,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(database_url),
        API_TITLE="trialdm",
        API_VERSION="v1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=https,
        REMEMBER_COOKIE_SECURE=https,
        REMEMBER_COOKIE_HTTPONLY=True,
        HSTS=settings["BASE_URL"].lower().startswith("https://"),
        RATELIMIT_STORAGE_URI=settings["RATELIMIT_STORAGE_URI"],
        RATELIMIT_HEADERS_ENABLED=True,
        WTF_CSRF_TIME_LIMIT=None,
    )


def _instance_secret(instance: Path) -> str:
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}}
    return {"pool_pre_ping": True}


def register_logging(app: Flask) -> None:
    from trialdm.core.logs import configure_logging, install_celery_logging

    configure_logging(app.config["LOG_LEVEL"], app.config["LOG_FORMAT"])
    install_celery_logging()


def register_extensions(app: Flask, web: bool = True) -> None:
    from trialdm.core.sqlite import install_sqlite_pragmas
    from trialdm.extensions import db, login_manager

    db.init_app(app)
    with app.app_context():
        install_sqlite_pragmas(
            db.engine, app.config["SQLITE_CACHE_MB"], app.config["SQLITE_MMAP_MB"]
        )
    login_manager.init_app(app)
    if web:
        register_web_extensions(app)


def register_web_extensions(app: Flask) -> None:
    """Migrations (the CLI), the API's documentation, CSRF and rate limits: what
    serving requests needs and a worker does not (nor imports)."""
    from trialdm.core.openapi import install_multipart_loader, spec_options
    from trialdm.extensions import api, csrf, db, limiter, migrate

    app.config["API_SPEC_OPTIONS"] = spec_options()
    migrate.init_app(
        app, db, directory=str(shipped("migrations")), render_as_batch=True, compare_type=True
    )
    api.init_app(app)
    install_multipart_loader(api)
    csrf.init_app(app)
    limiter.init_app(app)


def register_language(app: Flask) -> None:
    from trialdm.web.i18n import init_babel

    init_babel(app)


def register_mechanisms(app: Flask) -> None:
    """Site scoping, audit, task queueing, record versions and the request edge: one
    place each."""
    from trialdm.auth.loader import register_auth_loader
    from trialdm.core.audit import install_audit
    from trialdm.core.http import register_request_edge
    from trialdm.core.inputs import register_input_bounds
    from trialdm.core.locking import install_lock_guard
    from trialdm.core.scoping import install_site_scoping
    from trialdm.core.tasks import install_task_queueing
    from trialdm.core.versions import install_version_guard
    from trialdm.extensions import db

    install_site_scoping()
    install_audit()
    install_task_queueing()
    install_version_guard()
    install_lock_guard()
    register_request_edge(app, db)
    register_input_bounds(app)
    register_auth_loader(app)


def register_domain_hooks(app: Flask) -> None:
    """Rules and fields a domain adds to a lower one, which never imports it: the
    contacts domain's checks and fields on participants, and reminder rules kept in the
    domain whose data they read (they register themselves on import)."""
    from trialdm.contacts.hooks import install_participant_hooks
    from trialdm.selfreport import reminders  # noqa: F401

    install_participant_hooks(app)


def register_trial_definitions(app: Flask) -> None:
    """Trial data read once at start (a bad file names file, key and problem)."""
    from trialdm.participants import minimum_record
    from trialdm.quality import checks, locks, on_save

    minimum_record.init_app(app)
    checks.init_app(app)
    locks.init_app(app)
    on_save.install_on_save_checks()


def register_blueprints(app: Flask) -> None:
    import importlib

    from trialdm.extensions import api, csrf

    for name in API_MODULES:
        module = importlib.import_module(f"trialdm.{name}.api")
        csrf.exempt(module.blp)  # bearer-token clients; session writes are checked in auth
        api.register_blueprint(module.blp)
    for name in VIEW_MODULES:
        module = importlib.import_module(f"trialdm.{name}.views")
        app.register_blueprint(module.bp)
    from trialdm.redcap.api import register_redcap_api
    from trialdm.web.widgetcache import init_widget_store

    register_redcap_api(app)
    init_widget_store(app)


def register_cli(app: Flask) -> None:
    from trialdm.cli import register_commands

    register_commands(app)


def register_celery(app: Flask) -> None:
    from trialdm.exports.beat import beat_schedule as exports_beat
    from trialdm.extensions import celery
    from trialdm.maintenance.beat import beat_schedule as maintenance_beat
    from trialdm.maintenance.heartbeat import install_beat_heartbeat
    from trialdm.participants.beat import beat_schedule as participants_beat
    from trialdm.quality.beat import beat_schedule as quality_beat
    from trialdm.reminders.beat import beat_schedule as reminders_beat
    from trialdm.summaries.beat import beat_schedule as summaries_beat

    # Found, not imported: trialdm never imports tasks (the worker includes them).
    spec = importlib.util.find_spec("tasks")
    folder = Path(spec.origin).parent if spec and spec.origin else None
    task_modules = sorted(
        f"tasks.{path.stem}"
        for path in (folder.glob("*.py") if folder else ())
        if path.stem != "__init__"
    )
    celery.conf.update(
        broker_url=app.config["BROKER_URL"],
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_always_eager=app.config["TASKS_EAGER"],
        task_eager_propagates=True,
        broker_connection_retry_on_startup=True,
        include=task_modules,
        timezone="UTC",
        enable_utc=True,
        broker_transport_options=_broker_transport_options(app.config["BROKER_URL"]),
        task_default_queue=app.config["CELERY_QUEUE"],
    )
    # Each domain contributes its beat entries; UTC times (enable_utc above).
    celery.conf.beat_schedule = {
        **summaries_beat(app.config),
        **reminders_beat(app.config),
        **maintenance_beat(app.config),
        **exports_beat(app.config),
        **participants_beat(app.config),
        **quality_beat(app.config),
    }
    install_beat_heartbeat()
    celery.flask_app = app
    app.extensions["celery"] = celery


def _broker_transport_options(url: str) -> dict[str, Any]:
    if url.startswith(("redis://", "rediss://")):
        # Unacknowledged tasks return after this; longer than any summary build.
        return {"visibility_timeout": 4 * 3600}
    return {}


def register_checks(app: Flask) -> None:
    from trialdm.auth.permissions import check_endpoint_permissions
    from trialdm.config import ConfigError
    from trialdm.participants.vocabulary import VocabularyError, load_vocabulary

    check_endpoint_permissions(app)
    # A broken or missing diagnosis vocabulary stops the service at start, not at first entry.
    try:
        load_vocabulary(app.config["VOCABULARIES_PATH"], app.config["DIAGNOSIS_VOCABULARY"])
    except VocabularyError as exc:
        raise ConfigError(f"TRIALDM_DIAGNOSIS_VOCABULARY: {exc}") from None
    if app.config["RANDOMISATION"] == "service":
        # A broken scheme stops the service at start, not at the first randomisation.
        from trialdm.randomisation.scheme import SchemeError, load_scheme

        try:
            load_scheme(app.config["RANDOMISATION_SCHEME"])
        except SchemeError as exc:
            raise ConfigError(f"TRIALDM_RANDOMISATION_SCHEME: {exc}") from None
