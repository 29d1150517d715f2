"""Logs: Python's usual text lines, or with ``TRIALDM_LOG_FORMAT=json`` one JSON object
per line (time, level, logger, message, request_id) for a log collector; the web
app, the CLI and Celery workers alike."""

from __future__ import annotations

import logging
from typing import Any

from pythonjsonlogger.json import JsonFormatter

JSON_FIELDS = "%(levelname)s %(name)s %(message)s %(request_id)s"
# Loggers that bring their own handlers (gunicorn's); they get the same format.
OWN_HANDLER_LOGGERS = ("gunicorn.error", "gunicorn.access")
# The format the app was configured with, for the handlers Celery makes later.
_configured = {"json": False}


class RequestIdFilter(logging.Filter):
    """Adds ``request_id``: the HTTP request's id, else the Celery task's id."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = getattr(record, "request_id", None) or _current_request_id()
        return True


def _current_request_id() -> str | None:
    from flask import g, has_app_context

    if has_app_context() and g.get("request_id"):
        return g.request_id
    from celery import current_task

    if current_task and current_task.request and current_task.request.id:
        return current_task.request.id
    return None


def json_formatter() -> JsonFormatter:
    return JsonFormatter(
        JSON_FIELDS,
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
    )


def use_json(handler: logging.Handler) -> None:
    handler.setFormatter(json_formatter())
    if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
        handler.addFilter(RequestIdFilter())


def configure_logging(level: str, log_format: str) -> None:
    logging.getLogger("trialdm").setLevel(level)
    _configured["json"] = log_format == "json"
    if log_format != "json":
        return
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    if root.level > logging.getLevelName(level):
        root.setLevel(level)
    for handler in root.handlers:
        use_json(handler)
    for name in OWN_HANDLER_LOGGERS:
        for handler in logging.getLogger(name).handlers:
            use_json(handler)


def _on_celery_logging(logger: logging.Logger | None = None, **kwargs: Any) -> None:
    if not _configured["json"] or logger is None:
        return
    for handler in logger.handlers:
        use_json(handler)


def install_celery_logging() -> None:
    """Celery workers set up their own handlers after the app is made; the JSON
    format is put on them once they exist."""
    from celery.signals import after_setup_logger, after_setup_task_logger

    after_setup_logger.connect(_on_celery_logging, weak=False, dispatch_uid="trialdm-json-logs")
    after_setup_task_logger.connect(
        _on_celery_logging, weak=False, dispatch_uid="trialdm-json-task-logs"
    )
