"""Test fixtures.

The schema is built once per test run by the migrations (not ``create_all``), on
SQLite, or on PostgreSQL when ``TRIALDM_TEST_DATABASE_URL`` is set. Every test
runs inside a transaction that is rolled back afterwards; requests and
operations that "commit" release a SAVEPOINT inside it. Test code shares the
request's session: commit what you set up (``db_session.commit()``) before making
a request, since a failed request rolls back whatever is not committed. Under ``CI=true`` an
unreachable PostgreSQL or Redis fails the run instead of skipping.
"""

from __future__ import annotations

import importlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import scoped_session, sessionmaker

from trialdm import create_app
from trialdm.core.audit import audit_context
from trialdm.core.scoping import all_sites
from trialdm.extensions import db, limiter

ON_CI = os.environ.get("CI", "").lower() == "true"
TEST_DATABASE_URL = os.environ.get("TRIALDM_TEST_DATABASE_URL", "")
TEST_REDIS_URL = os.environ.get("TRIALDM_TEST_REDIS_URL", "")
REFERENCE = Path(__file__).resolve().parent / "data" / "reference"
SEEDERS_DIR = Path(__file__).resolve().parent / "seeders"


def worker_suffix() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url.replace("+psycopg", ""))
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2
        ):
            return True
    except OSError:
        return False


def _postgres_database(base_url: str, name: str) -> str:
    """Create a fresh database ``name`` on the server of ``base_url``; return its URL."""
    url = sa.make_url(base_url)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(
            sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
            {"n": name},
        )
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def make_database_url(tmp_path: Path, label: str) -> str:
    """A new empty database for this test worker: SQLite file, or PostgreSQL."""
    if TEST_DATABASE_URL:
        if not reachable(TEST_DATABASE_URL, 5432):
            pytest.exit(f"PostgreSQL at {TEST_DATABASE_URL} is unreachable", returncode=3)
        base = sa.make_url(TEST_DATABASE_URL).database or "trialdm_test"
        return _postgres_database(TEST_DATABASE_URL, f"{base}_{label}_{worker_suffix()}")
    return f"sqlite:///{tmp_path / f'{label}.db'}"


def test_settings(tmp_path: Path, database_url: str) -> dict[str, Any]:
    return {
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret",
        "TASKS_EAGER": True,
        "BROKER_URL": "memory://",
        "WORKBOOK_DIR": str(tmp_path / "workbooks"),
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        "LOGIN_RATE_LIMIT": "1000 per minute",
        "PASSWORD_HASH_MEMORY_KIB": 1024,
    }


def build_app(tmp_path: Path, label: str, **overrides: Any) -> Flask:
    """An app on a new database built by the migrations, with the sites synced."""
    from flask_migrate import upgrade

    from trialdm.sites.operations import load_site_files, sync_sites

    settings = test_settings(tmp_path, make_database_url(tmp_path, label))
    settings.update(overrides)
    app = create_app(settings, environ={"TRIALDM_INSTANCE_PATH": str(tmp_path / "instance")})
    app.test_client_class = FreshContextClient
    app.config["WTF_CSRF_ENABLED"] = False
    with app.app_context():
        upgrade()
        with all_sites():
            sync_sites(db.session, load_site_files(Path(app.config["SITES_DIR"])))
            db.session.commit()
    return app


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = build_app(tmp_path_factory.mktemp("trialdm"), "suite")
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _transaction_per_test(request: pytest.FixtureRequest) -> None:
    """Every test that uses the app runs inside a rolled-back transaction."""
    if "app" in request.fixturenames:
        request.getfixturevalue("db_session")


def rebind_celery(app: Flask) -> None:
    """Tests that build another app (config, CLI, separate databases) bind the shared
    Celery object to it; eager tasks must run with the suite's app and its settings."""
    from trialdm import register_celery
    from trialdm.extensions import celery

    if getattr(celery, "flask_app", None) is not app:
        register_celery(app)


class RequestEndRollsBack(scoped_session):
    """The test's session. At the end of every request (app context teardown) the app
    removes its session, which in production discards whatever the request did not
    commit; here that is a rollback to the last commit, and the test's own objects stay
    attached so that the test can read them again."""

    def remove(self) -> None:
        if self.registry.has():
            self.registry().rollback()


@pytest.fixture
def db_session(app: Flask) -> Iterator[Any]:
    """A transaction around the test, rolled back at the end."""
    rebind_celery(app)
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        db.session = RequestEndRollsBack(
            sessionmaker(
                bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
            )
        )
        limiter.reset()
        try:
            with all_sites(), audit_context(source="system"):
                yield db.session
        finally:
            db.session.close()
            db.session = original
            if outer.is_active:
                outer.rollback()
            connection.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class ApiClient:
    """Calls the API as one user with a bearer token; JSON in, response out."""

    def __init__(self, client: FlaskClient, token: str, user: Any) -> None:
        self.client = client
        self.token = token
        self.user = user

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(headers or {})}

    def get(self, url: str, **kwargs: Any):
        return self.client.get(url, headers=self._headers(kwargs.pop("headers", None)), **kwargs)

    def post(self, url: str, json: Any = None, **kwargs: Any):
        return self.client.post(
            url, json=json, headers=self._headers(kwargs.pop("headers", None)), **kwargs
        )

    def put(self, url: str, json: Any = None, **kwargs: Any):
        return self.client.put(
            url, json=json, headers=self._headers(kwargs.pop("headers", None)), **kwargs
        )

    def patch(self, url: str, json: Any = None, **kwargs: Any):
        return self.client.patch(
            url, json=json, headers=self._headers(kwargs.pop("headers", None)), **kwargs
        )

    def delete(self, url: str, **kwargs: Any):
        return self.client.delete(url, headers=self._headers(kwargs.pop("headers", None)), **kwargs)


@pytest.fixture
def sites_on_one_date(time_machine) -> None:
    """The clock at noon UTC of today, running: every site of the trial (UTC+1 to
    UTC+5:30) is then on the same date. Sites on two dates (around midnight in one of
    them) are read once per date (tests/test_fidelity_site_day.py); a test that counts
    statements asks for this, so that it counts the same at any hour."""
    from datetime import UTC, datetime, time

    time_machine.move_to(datetime.combine(datetime.now(UTC).date(), time(12), UTC), tick=True)


@pytest.fixture
def make_user(app: Flask):
    """``make_user("research_worker", ["BU"])`` -> a User (password 'correct horse 1')."""
    from trialdm.auth.operations import create_user

    counter = iter(range(1, 10_000))

    def make(role: str, sites: list[str] | None = None, email: str | None = None):
        email = email or f"{role}.{'-'.join(sites or ['all'])}.{next(counter)}@test.org".lower()
        user = create_user(db.session, email, role, sites or [], "correct horse 1")
        db.session.commit()
        return user

    return make


@pytest.fixture
def api_as(app: Flask, client: FlaskClient, make_user):
    """``api_as("site_lead", ["BU"])`` -> an ApiClient for a new user of that role."""
    from trialdm.auth.operations import create_token

    def make(role: str, sites: list[str] | None = None, user: Any = None) -> ApiClient:
        user = user or make_user(role, sites)
        _, token = create_token(db.session, user, "test")
        db.session.commit()
        return ApiClient(client, token, user)

    return make


@pytest.fixture
def make_participant(app: Flask):
    """``make_participant("BU", "service_user", arm="intervention", ...)``; the fields
    the minimum record requires (quality/minimum_record.toml) get sensible defaults."""
    from datetime import date, timedelta

    from trialdm.participants.operations import create_participant

    def make(site: str = "BU", category: str = "service_user", **fields: Any):
        data: dict[str, Any] = {"site": site, "category": category, **fields}
        data.setdefault("gender", "female")
        if "age" not in fields:
            data.setdefault("year_of_birth", date.today().year - 35)
        if category == "service_user" and fields.get("enrolment_date"):
            enrolled = fields["enrolment_date"]
            data.setdefault("consent_date", enrolled)
            data.setdefault("consent_version", "1.0")
            data.setdefault("arm", "intervention")
            if "age" not in fields and "year_of_birth" not in fields:
                data["year_of_birth"] = enrolled.year - 35
        if category == "psw":
            data.setdefault("training_completed", date.today() - timedelta(days=365))
        with all_sites():
            participant = create_participant(db.session, data)
            db.session.commit()
            return participant

    return make


@pytest.fixture
def trial_minimum_record(app: Flask, tmp_path: Path):
    """``trial_minimum_record('[psw]\\non_creation = ["gender"]')``: for this test, the
    trial declares that minimum record (e.g. one without gender, whose summaries must
    count a gender as missing) instead of quality/minimum_record.toml."""
    from trialdm.participants.minimum_record import EXTENSION_KEY, parse_minimum_record

    shipped = app.extensions[EXTENSION_KEY]

    def declare(text: str) -> None:
        path = tmp_path / "minimum_record.toml"
        path.write_text(text)
        app.extensions[EXTENSION_KEY] = parse_minimum_record(path)

    yield declare
    app.extensions[EXTENSION_KEY] = shipped


@pytest.fixture
def reference_dir() -> Path:
    return REFERENCE


def seeders() -> list[Any]:
    """Each module in tests/seeders/ has ``seed(session, site, marker) -> {param: value}``:
    records of one site for the cross-site walk, with ``marker`` in their free text."""
    return [
        importlib.import_module(f"tests.seeders.{path.stem}")
        for path in sorted(SEEDERS_DIR.glob("*.py"))
        if path.stem != "__init__"
    ]


@pytest.fixture(scope="session")
def redis_url() -> str:
    if not TEST_REDIS_URL:
        if ON_CI:
            pytest.fail("CI=true needs TRIALDM_TEST_REDIS_URL")
        pytest.skip("TRIALDM_TEST_REDIS_URL is not set")
    if not reachable(TEST_REDIS_URL, 6379):
        if ON_CI:
            pytest.fail(f"Redis at {TEST_REDIS_URL} is unreachable")
        pytest.skip(f"Redis at {TEST_REDIS_URL} is unreachable")
    return TEST_REDIS_URL


def pytest_sessionstart(session: pytest.Session) -> None:
    """Under CI=true the services must be there: a missing one fails the run."""
    if not ON_CI:
        return
    if not TEST_REDIS_URL or not reachable(TEST_REDIS_URL, 6379):
        pytest.exit(f"CI=true: Redis at {TEST_REDIS_URL or '(unset)'} is unreachable", returncode=3)
    if TEST_DATABASE_URL and not reachable(TEST_DATABASE_URL, 5432):
        pytest.exit(f"CI=true: PostgreSQL at {TEST_DATABASE_URL} is unreachable", returncode=3)


class FreshContextClient(FlaskClient):
    """A test client whose every request runs in its own application context, as in
    production: nothing in ``g`` (the logged-in user, a kept transaction) survives
    from one request to the next, even while the test itself holds a context."""

    def open(self, *args: Any, **kwargs: Any):
        with self.application.app_context():
            return super().open(*args, **kwargs)
