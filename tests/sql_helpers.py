"""The SQL statements a piece of work sends, for tests that count them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from trialdm.extensions import db

DATA_STATEMENTS = {"SELECT", "INSERT", "UPDATE", "DELETE"}


@contextmanager
def recorded() -> Iterator[list[tuple[str, Any]]]:
    """(statement, parameters) of everything sent to the database inside the block."""
    seen: list[tuple[str, Any]] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)


def statements_during(
    action: Callable[[], Any], *, data_only: bool = True, warm: bool = False
) -> list[str]:
    """The statements sent while ``action`` runs, whitespace folded. ``data_only``
    keeps SELECT/INSERT/UPDATE/DELETE (no savepoints); ``warm`` runs the action once
    before recording (a token's or a session's first use is recorded once)."""
    if warm:
        action()
    with recorded() as seen:
        action()
    return [
        " ".join(statement.split())
        for statement, _ in seen
        if not data_only or statement.split(None, 1)[0].upper() in DATA_STATEMENTS
    ]


def inserted_tables(statements: list[str]) -> list[str]:
    """The tables the statements insert into, in order: each ``INSERT INTO`` of a
    statement, those of a data-modifying ``WITH`` included."""
    found: list[str] = []
    for statement in statements:
        words = statement.split()
        found += [
            words[i + 2]
            for i in range(len(words) - 2)
            if words[i].upper() == "INSERT" and words[i + 1].upper() == "INTO"
        ]
    return found


# Reads a process repeats only when its cache of them expires (the login's user and
# memberships, the sites' time zones): counted, they would make a count depend on how
# long the tests before took.
CACHE_REFRESHES = ("SELECT users.", "SELECT memberships.", "SELECT sites.code, sites.timezone")


def counted_reads(seen: list[tuple[str, Any]]) -> int:
    """The SELECT statements of ``seen`` (from :func:`recorded`) but cache refreshes."""
    return len(
        [
            s
            for s, _ in seen
            if s.split()[0].upper() in {"SELECT", "WITH"} and not s.startswith(CACHE_REFRESHES)
        ]
    )
