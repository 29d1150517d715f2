"""The app served on localhost for a real browser, and Debian's chromium driven by
Playwright (``executable_path``; no browser is ever downloaded)."""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import make_server

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def chromium_path() -> str | None:
    configured = os.environ.get("TRIALDM_TEST_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed"
    if chromium_path() is None:
        return "chromium is not installed (make browser-deps)"
    return None


def launch_chromium(playwright: Any):
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)


def load_demo_data(app: Flask) -> None:
    from trialdm.core.scoping import all_sites
    from trialdm.demo.operations import load_demo
    from trialdm.extensions import db

    with app.app_context(), all_sites():
        for _ in load_demo(db.session):
            pass
        db.session.commit()


@contextmanager
def serving(app: Flask, port: int = 0) -> Iterator[str]:
    """Serve ``app`` on localhost (a free port unless given) in a thread; yields its base URL.

    Eager tasks run inside the app that Celery points at: this one, while it serves."""
    from trialdm.extensions import celery

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    previous = getattr(celery, "flask_app", None)
    celery.flask_app = app
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        if previous is not None:
            celery.flask_app = previous


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def build_live_app(tmp_path: Path, label: str = "browser", base_url: str | None = None) -> Flask:
    """An app on its own committed database (not the rollback-per-test one), with
    CSRF on as in production and the demo data loaded (its mails link to ``base_url``)."""
    from tests.conftest import build_app

    app = build_app(tmp_path, label)
    app.config["WTF_CSRF_ENABLED"] = True
    if base_url is not None:
        app.config["BASE_URL"] = base_url
    load_demo_data(app)
    return app
