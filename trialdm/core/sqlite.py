"""SQLite connection settings: foreign keys on, WAL, and transactions that SQLAlchemy
controls (pysqlite's own BEGIN handling breaks SAVEPOINTs)."""

from __future__ import annotations

from sqlalchemy import Engine, event


def install_sqlite_pragmas(engine: Engine) -> None:
    if engine.dialect.name != "sqlite" or getattr(engine, "_trialdm_pragmas", False):
        return
    engine._trialdm_pragmas = True  # type: ignore[attr-defined]

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, connection_record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        connection.exec_driver_sql("BEGIN")
