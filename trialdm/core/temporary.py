"""A heavy statement computed once into a temporary table, then read many times.

A summaries build reads its population once per statistic: the population is
written once into a temporary table of the session's connection and read from
there.

The table lives in the connection of the session, so the caller must not end its
transaction between writing and reading, and should drop it when done
(:func:`drop_temporaries`): a connection returned to the pool would otherwise keep
it. A transaction rolled back after the table was created removes it too (CREATE
TABLE is transactional on PostgreSQL and SQLite).

Each name has one table object (a :class:`~sqlalchemy.sql.expression.TableClause`,
no schema metadata: nothing here needs more) for the life of the process:
SQLAlchemy keys a compiled statement by its tables' identity, so a table made anew
for each build would make every statement over it one to compile again. The table
is created if the connection does not have it yet and emptied before it is
written, so a connection that kept the table of an earlier computation (not
dropped) is written again, not refused.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from typing import Any

from sqlalchemy import String, TableClause, column, insert, select, table
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.sql.sqltypes import NullType

from trialdm.core.scoping import current_scope, with_site_criteria

_tables: dict[tuple[str, str], TableClause] = {}
_lock = threading.Lock()


def temporary_table(name: str, columns: Iterable[Any]) -> TableClause:
    """The process's one temporary table of this name and these columns (name,
    type); its SQL name carries a digest of both, so a population whose columns
    changed (a table file edited) is another table, and a long name cut short is
    not another name's."""
    shape = [(c.name, String() if isinstance(c.type, NullType) else c.type) for c in columns]
    signature = repr([(column, repr(kind)) for column, kind in shape])
    key = (name, signature)
    found = _tables.get(key)
    if found is not None:
        return found
    digest = hashlib.blake2b(f"{name}|{signature}".encode(), digest_size=4).hexdigest()
    with _lock:
        return _tables.setdefault(
            key,
            table(f"{name[:40]}_{digest}", *[column(field, kind) for field, kind in shape]),
        )


def materialise(
    session: Session,
    statement: Any,
    *,
    name: str,
    site_column: str | None = None,
) -> TableClause:
    """Write the rows of ``statement`` (a SELECT) into the temporary table ``name``
    (created if this connection has none yet, emptied if it has) and return it.

    An INSERT ... SELECT is not a SELECT: the session's scoping listener does not see
    it. The scope is applied here, as the listener would have applied it to a SELECT
    reading the statement: the ORM's site criteria on every site-scoped entity the
    statement reads, or, with ``site_column``, on that column of the statement only
    (every row belongs to a site).
    """
    scope = current_scope()
    rows = statement
    columns = statement.selected_columns
    if site_column is not None and not scope.every_site:
        shape = statement.subquery()
        columns = shape.columns
        rows = select(*shape.columns).where(shape.c[site_column].in_(sorted(scope.codes)))
    table = temporary_table(name, columns)
    connection = session.connection()
    connection.exec_driver_sql(_ddl(table, connection, "create"))
    connection.exec_driver_sql(_ddl(table, connection, "empty"))
    # The statement itself, not a SELECT of it as a subquery: the same rows, and one
    # level less for SQLAlchemy to build and compile.
    write = insert(table).from_select([c.name for c in columns], rows)
    session.execute(write if site_column is not None else with_site_criteria(write))
    return table


def drop_temporaries(
    session: Session, tables: Iterable[TableClause], *, failed: bool = False
) -> None:
    """Drop ``tables`` (the connection goes back to the pool). After an error
    (``failed``) the transaction may be aborted (PostgreSQL refuses any statement
    then): a drop that fails there is left to the rollback, which removes the tables."""
    if not failed:
        connection = session.connection()
        for table in tables:
            connection.exec_driver_sql(_ddl(table, connection, "drop"))
        return
    try:
        connection = session.connection()
        for table in tables:
            with connection.begin_nested():
                connection.exec_driver_sql(_ddl(table, connection, "drop"))
    except SQLAlchemyError:
        return  # the caller's rollback removes what is left


_ddl_texts: dict[tuple[TableClause, str, str], str] = {}


def _ddl(temporary: TableClause, connection: Any, what: str) -> str:
    """The CREATE (if not exists), DELETE of every row ("empty") or DROP (if exists)
    of a temporary table as SQL, written once per table and dialect as SQLAlchemy's
    CreateTable, delete() and DropTable write it (the columns' types by the dialect's
    type compiler)."""
    dialect = connection.dialect
    key = (temporary, dialect.name, what)
    found = _ddl_texts.get(key)
    if found is None:
        quote = dialect.identifier_preparer.quote
        name = quote(temporary.name)
        if what == "create":
            types = dialect.type_compiler_instance
            columns = ", \n\t".join(
                f"{quote(c.name)} {types.process(c.type, type_expression=c)}"
                for c in temporary.columns
            )
            found = f"\nCREATE TEMPORARY TABLE IF NOT EXISTS {name} (\n\t{columns}\n)\n\n"
        elif what == "empty":
            found = f"DELETE FROM {name}"
        else:
            found = f"\nDROP TABLE IF EXISTS {name}"
        _ddl_texts[key] = found
    return found
