"""The PostgreSQL databases of a benchmark run: made afresh on a loopback server,
dropped at the end. Imported by the scripts beside it (``python bench/x.py``)."""

from __future__ import annotations

import sys

import sqlalchemy as sa

LOOPBACK = (None, "127.0.0.1", "localhost", "::1")


def _admin(url: sa.URL) -> sa.Engine:
    return sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")


def fresh_postgres(url: str, name: str | None = None) -> str:
    """Drop (if it exists) and create the database of ``url``, or ``name`` on the same
    server; returns its URL with the password kept. Exits unless the server is on
    loopback: a benchmark never drops a database elsewhere."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "postgresql":
        sys.exit("the database URL must be a PostgreSQL URL")
    if parsed.host not in LOOPBACK:
        sys.exit("the benchmark only talks to a PostgreSQL on loopback")
    target = parsed.set(database=name or parsed.database)
    admin = _admin(parsed)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    return target.render_as_string(hide_password=False)


def drop_postgres(url: str) -> None:
    """Drop the database of ``url`` (nothing for a SQLite URL)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return
    admin = _admin(parsed)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()
