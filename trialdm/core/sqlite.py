"""SQLite connection settings: foreign keys on, WAL, and transactions that SQLAlchemy
controls (pysqlite's own BEGIN handling breaks SAVEPOINTs).

A transaction that will write starts with ``BEGIN IMMEDIATE``: it waits for the write
lock before reading, so what it reads (a record's version) is still current when it
writes. A plain ``BEGIN`` reads a snapshot first; if another writer commits before it
writes, SQLite refuses the write with "database is locked" (SQLITE_BUSY_SNAPSHOT,
which the busy timeout does not retry) instead of letting the version check answer.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, event
from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
from sqlalchemy.exc import OperationalError

T = TypeVar("T")

_will_write: ContextVar[bool] = ContextVar("trialdm_sqlite_will_write", default=False)


def set_writing(value: bool) -> object:
    """Mark the transactions of this context (a request) as writing or not; returns the
    token for :func:`reset_writing`."""
    return _will_write.set(value)


def reset_writing(token) -> None:
    _will_write.reset(token)


def install_sqlite_pragmas(engine: Engine, cache_mb: int = 8, mmap_mb: int = 256) -> None:
    """Foreign keys, WAL and the busy timeout; a page cache and memory-mapped I/O sized
    for reading whole tables: with the file mapped, a pass over 100,000 people reads
    the operating system's cached pages without copying them through SQLite's cache
    (2 MB by default), and the page cache, which also bounds a sort's memory, stays
    small enough for a build's memory to stay flat."""
    if engine.dialect.name != "sqlite" or getattr(engine, "_trialdm_pragmas", False):
        return
    engine._trialdm_pragmas = True  # type: ignore[attr-defined]
    engine.dialect.statement_compiler = TableHintCompiler

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, connection_record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute(f"PRAGMA cache_size=-{int(cache_mb) * 1024}")  # negative: KiB
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute(f"PRAGMA mmap_size={int(mmap_mb) * 1024 * 1024}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE" if _will_write.get() else "BEGIN")


class TableHintCompiler(SQLiteCompiler):
    """SQLite's compiler with table hints (``INDEXED BY`` / ``NOT INDEXED``) rendered
    after the table's name, as ``select().with_hint(table, text, "sqlite")`` asks;
    SQLAlchemy's own SQLite compiler leaves them out."""

    def get_from_hint_text(self, table: Any, text: str | None) -> str | None:
        return text


# A whole-table read: SQLite's statistics (no histograms in Python's build) count
# rows per distinct value, so a filter on a column of three values, where one value
# is nine tenths of the table, looks selective and is read through its index, a
# second look-up per row (three times slower at 100,000 than reading the table).
WHOLE_TABLE = "NOT INDEXED"


# SQLITE_BUSY and SQLITE_BUSY_SNAPSHOT (extended code)
_BUSY_CODES = {5, 517}


def is_busy_snapshot(exc: BaseException) -> bool:
    """SQLite refused a write lock: in WAL mode a transaction that read before its
    first write cannot write once another connection committed after its snapshot,
    and waiting (busy_timeout) does not help; only a new transaction does."""
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlite_errorcode", None) in _BUSY_CODES


def run_retrying_when_busy(session: Any, work: Callable[[], T], attempts: int = 20) -> T:
    """Run ``work`` (which must be safe to repeat) at a request's edge, starting a new
    transaction when SQLite refuses the write lock. Other databases wait for row locks
    instead, so they never retry."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except OperationalError as exc:
            if not is_busy_snapshot(exc) or attempt == attempts:
                raise
            session.rollback()
            time.sleep(random.uniform(0.005, 0.05) * attempt)
    raise AssertionError("unreachable")


# SQLite caps a mapping at SQLITE_MAX_MMAP_SIZE (about 2 GB in the usual builds) itself.
_JOB_MMAP_HEADROOM = 64 * 1024 * 1024


@contextmanager
def sized_for_a_job(connection: Connection, cache_mb: int, heap_mb: int = 0) -> Iterator[None]:
    """A connection set up for one job that reads whole tables, then given back as it
    was: the database file mapped into memory whole (its pages are the operating
    system's file cache, shared and not the job's own memory; nothing is copied
    through SQLite's cache), and a page cache of ``cache_mb``, which bounds the
    job's private memory for the temporary tables and sorts (SQLite spills to its
    temporary files beyond it). ``heap_mb`` sets SQLite's soft heap limit while the
    job runs: beyond it SQLite recycles cache pages and writes sorts out early instead
    of growing (a summaries build over 100,000 people: SQLite's heap peaked at 15 MB
    with a 2 MB page cache and no limit, 12 MB with a 4 MB limit, in the statements
    with window functions). The limit is the process's
    (a worker runs one job at a time); it is set back when the job ends. Other
    connections keep their settings. Does nothing on other databases."""
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = connection.connection.driver_connection
    file = connection.engine.url.database
    size = os.path.getsize(file) if file and file != ":memory:" and os.path.exists(file) else 0

    def pragma(name: str) -> int:
        return int(raw.execute(f"PRAGMA {name}").fetchone()[0])

    before = {name: pragma(name) for name in ("cache_size", "mmap_size", "soft_heap_limit")}
    raw.execute(f"PRAGMA cache_size=-{int(cache_mb) * 1024}")
    if heap_mb:
        raw.execute(f"PRAGMA soft_heap_limit={heap_mb * 1024 * 1024}")
    if size:
        raw.execute(f"PRAGMA mmap_size={max(before['mmap_size'], size + _JOB_MMAP_HEADROOM)}")
    try:
        yield
    finally:
        for name, value in before.items():
            raw.execute(f"PRAGMA {name}={value}")
