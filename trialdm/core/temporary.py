"""A heavy statement computed once into a temporary table, then read many times.

A summaries build reads its population once per statistic: a population that is
itself a heavy statement (the contacts domain's fidelity rule, the schedule) is
written once into a temporary table of the session's connection and read from
there.

The table lives in the connection of the session, so the caller must not end its
transaction between writing and reading, and must drop it when done
(:func:`drop_temporaries`): a connection returned to the pool would otherwise keep
it. A transaction rolled back after the table was created removes it too (CREATE
TABLE is transactional on PostgreSQL and SQLite).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Column, Index, MetaData, String, Table, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.sql.sqltypes import NullType

from trialdm.core.scoping import current_scope

_numbers = itertools.count(1)


def materialise(
    session: Session,
    statement: Any,
    *,
    prefix: str,
    site_column: str,
    index_on: Sequence[str] = (),
) -> Table:
    """Write the rows of ``statement`` (a SELECT) into a new temporary table and
    return it, with an index on each of ``index_on``.

    An INSERT ... SELECT is not a SELECT: the session's scoping listener does not see
    it, and the ORM's criteria do not reach a SELECT nested in it. The scope is
    applied to the statement's ``site_column`` instead (every row belongs to a site).
    """
    shape = statement.subquery()
    # Unique in the process; the pid keeps two workers' names apart on a shared file.
    name = f"{prefix}_{os.getpid()}_{next(_numbers)}"
    table = Table(
        name,
        MetaData(),
        *[
            Column(c.name, String() if isinstance(c.type, NullType) else c.type)
            for c in shape.columns
        ],
        prefixes=["TEMPORARY"],
    )
    connection = session.connection()
    table.create(connection)
    rows = select(*shape.columns)
    scope = current_scope()
    if not scope.every_site:
        rows = rows.where(shape.c[site_column].in_(sorted(scope.codes)))
    session.execute(insert(table).from_select([c.name for c in shape.columns], rows))
    for column_name in index_on:
        # created after the rows are in: one sort instead of an index kept on each insert
        Index(f"ix_{name}_{column_name}", table.c[column_name]).create(connection)
    return table


def drop_temporaries(session: Session, tables: Iterable[Table], *, failed: bool = False) -> None:
    """Drop ``tables`` (the connection goes back to the pool). After an error
    (``failed``) the transaction may be aborted (PostgreSQL refuses any statement
    then): a drop that fails there is left to the rollback, which removes the tables."""
    if not failed:
        connection = session.connection()
        for table in tables:
            table.drop(connection, checkfirst=True)
        return
    try:
        connection = session.connection()
        for table in tables:
            with connection.begin_nested():
                table.drop(connection, checkfirst=True)
    except SQLAlchemyError:
        return  # the caller's rollback removes what is left
