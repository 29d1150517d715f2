"""Idempotent inserts in bulk, on PostgreSQL and SQLite alike.

A scan of 50,000 findings must not cost 50,000 statements, nor re-send the rows that
exist: :func:`insert_new` sends every row as one JSON parameter and inserts with one
``INSERT ... SELECT ... WHERE NOT EXISTS ... ON CONFLICT DO NOTHING`` those whose key
is not stored yet (``NOT EXISTS`` so that a scan finding nothing new writes nothing,
``ON CONFLICT`` for a concurrent scan inserting the same key at the same moment).
The statement count is the same for ten rows and for a million. On SQLite the rows
go in by one ``executemany`` into a temporary table instead of one JSON parameter
(reading the fields of JSON rows cost more than the insert), and the same
``INSERT ... SELECT`` reads them from there: four statements per insert, however many
rows.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import suppress
from typing import Any

from sqlalchemy import (
    JSON,
    Select,
    String,
    Table,
    and_,
    bindparam,
    cast,
    column,
    exists,
    func,
    literal,
    literal_column,
    select,
    true,
)
from sqlalchemy import table as sql_table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import TableClause
from sqlalchemy.types import TypeEngine


def dialect_insert(session: Session, table: Table):
    """The dialect's INSERT (with ``on_conflict_do_nothing``)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise RuntimeError(f"No idempotent insert for {dialect}")  # pragma: no cover


def insert_ignoring_duplicates(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    conflict_columns: Sequence[str],
    returning: Sequence[str] = (),
) -> list[Any]:
    """Insert a few ``rows``, skipping those whose ``conflict_columns`` already exist.

    ``ON CONFLICT (...) DO NOTHING`` on PostgreSQL and on SQLite (rather than
    SQLite's ``INSERT OR IGNORE``, which would also swallow NOT NULL and CHECK
    violations). Returns the ``returning`` columns of the rows actually inserted.
    """
    if not rows:
        return []
    stmt = dialect_insert(session, table).on_conflict_do_nothing(index_elements=conflict_columns)
    if returning:
        stmt = stmt.returning(*(table.c[name] for name in returning))
        return list(session.execute(stmt, list(rows)).all())
    session.execute(stmt, list(rows))
    return []


def _payload(value: Any) -> str:
    """``value`` as one JSON parameter: compact, and without the check for circular
    references (rows are plain values), which is a fifth of the encoder's time on
    tens of thousands of rows."""
    return _encode(value)


def _json_default(value: Any) -> Any:
    # Dates and times go in as constants, through their column's type: as JSON text
    # SQLite would store them in another form than its DateTime columns compare.
    raise TypeError(f"{type(value).__name__} in a bulk row: pass it as a constant")


# one encoder for the process: ``json.dumps`` with options builds one per call, which
# costs as much as encoding a reminder's texts (SQLite encodes each row's apart)
_encode = json.JSONEncoder(
    check_circular=False, separators=(",", ":"), default=_json_default
).encode


def _only(rows: Sequence[Mapping[str, Any]], names: Sequence[str]) -> Sequence[Mapping[str, Any]]:
    """``rows`` with the fields ``names`` alone: the rows themselves when each has
    exactly those (as a scan's rows do), rather than a copy of every row; a row
    without one of them raises ``KeyError`` either way."""
    wanted = set(names)
    if all(isinstance(row, dict) and row.keys() == wanted for row in rows):
        return rows
    return [{name: row[name] for name in names} for row in rows]


def _rows_source(session: Session, table: Table, names: Sequence[str], payload: str):
    """The rows as a derived table with one column per name, from one JSON parameter."""
    param = bindparam("bulk_rows", payload, type_=String())
    if session.get_bind().dialect.name == "postgresql":
        types: list[TypeEngine] = [
            postgresql.JSON() if isinstance(table.c[name].type, JSON) else table.c[name].type
            for name in names
        ]
        source = (
            func.json_to_recordset(cast(param, postgresql.JSON()))
            .table_valued(*(column(n, t) for n, t in zip(names, types, strict=True)))
            .render_derived("bulk_rows", with_types=True)
        )
        return source, {name: source.c[name] for name in names}
    each = func.json_each(param).table_valued("value").alias("bulk_rows")
    return each, {name: _json_field(each.c.value, name).label(name) for name in names}


def _json_field(value: Any, name: str) -> Any:
    """SQLite: the field ``name`` of the JSON object ``value``, as ``json_extract`` gives
    it (text, number, NULL for JSON null, an object's or array's JSON text). Its
    ``->>`` operator (SQLite 3.38) gives the same value in about two thirds of the
    time, which counts when a scan's first day reads a dozen fields of 50,000 rows."""
    if sqlite3.sqlite_version_info < (3, 38):  # pragma: no cover - older SQLite
        return func.json_extract(value, f"$.{name}")
    return value.op("->>")(literal_column(f"'$.{name}'"))


def json_rows(
    session: Session, table: Table, names: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> Select:
    """``rows`` (their fields ``names``, columns of ``table``) as a SELECT of one JSON
    parameter, to join or unite with the table's rows in one statement."""
    payload = _payload(_only(rows, names))
    source, cols = _rows_source(session, table, names, payload)
    return select(*(cols[name].label(name) for name in names)).select_from(source)


def stored_keys(session: Session, table: Table, key_column: str, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` are stored in ``table.key_column`` already: one read, the keys
    sent as one JSON parameter (so that a scan finding only what is stored sends and
    writes nothing more)."""
    if not keys:
        return set()
    payload = _payload([{key_column: key} for key in keys])
    source, cols = _rows_source(session, table, [key_column], payload)
    stored = table.c[key_column]
    return set(
        session.scalars(select(stored).select_from(source).join(table, stored == cols[key_column]))
    )


def insert_new(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    key_columns: Sequence[str],
    *,
    constants: Mapping[str, Any] | None = None,
    returning: Sequence[str] = (),
    skip_stored: bool = True,
    conflicts: bool = True,
) -> list[Any]:
    """Insert those of ``rows`` whose ``key_columns`` are not stored yet, in one
    statement (on SQLite with the three of its temporary table); ``constants`` are
    the values every row shares (bound once, with their column's type). Returns the
    ``returning`` columns of the rows inserted.

    ``skip_stored=False`` when the caller knows the keys are new (read just before,
    or made of rows this transaction claimed): the insert then leaves the check to
    ``ON CONFLICT`` alone, without the ``NOT EXISTS`` join, whose plan a table
    analysed while empty can make quadratic on PostgreSQL. ``conflicts=False`` (with
    it) when no row can conflict with a stored one: a plain ``INSERT ... SELECT``
    without an arbiter (whose probe of the unique index costs each row), where a
    conflict raises."""
    if not rows:
        return []
    constants = dict(constants or {})
    names = [name for name in rows[0] if name not in constants]
    if session.get_bind().dialect.name == "sqlite":
        source = _sqlite_rows(session, table, names, rows)
        cols = {name: source.c[name] for name in names}
        try:
            return _insert_chosen(
                session,
                table,
                source,
                cols,
                key_columns,
                constants,
                returning,
                skip_stored,
                conflicts,
            )
        finally:
            _drop_sqlite_rows(session, source)
    payload = _payload(_only(rows, names))
    source, cols = _rows_source(session, table, names, payload)
    return _insert_chosen(
        session, table, source, cols, key_columns, constants, returning, skip_stored, conflicts
    )


def _insert_chosen(
    session: Session,
    table: Table,
    source: Any,
    cols: Mapping[str, Any],
    key_columns: Sequence[str],
    constants: Mapping[str, Any],
    returning: Sequence[str],
    skip_stored: bool,
    conflicts: bool = True,
) -> list[Any]:
    names = list(cols)
    stored = table.alias("stored")
    values = [cols[name] for name in names] + [
        literal(value, table.c[name].type) for name, value in constants.items()
    ]
    key_values = {**cols, **{n: literal(v, table.c[n].type) for n, v in constants.items()}}
    # SQLite parses ``ON CONFLICT`` after a SELECT only behind a WHERE clause
    chosen = select(*values).select_from(source).where(true())
    if skip_stored:
        chosen = chosen.where(
            ~exists().where(and_(*(stored.c[name] == key_values[name] for name in key_columns)))
        )
    stmt = dialect_insert(session, table).from_select([*names, *constants], chosen)
    if conflicts or skip_stored:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(key_columns))
    if returning:
        return list(session.execute(stmt.returning(*(table.c[name] for name in returning))).all())
    session.execute(stmt)
    return []


def _sqlite_rows(
    session: Session, table: Table, names: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> TableClause:
    """SQLite: ``rows`` written into a temporary table of the connection, one column per
    name, by one ``executemany``. Its columns have no type, so each value keeps the
    storage class it was bound with (text, integer, real, NULL; objects and arrays as
    their compact JSON text): what ``->>`` gives for the field of a JSON row, and the
    target column's affinity applies once, on the insert from here. Reading a dozen
    fields of tens of thousands of JSON rows with ``->>`` cost three times the
    whole insert's work (SQLite 3.40: 0.9 of 1.1 s for 47,000 reminders)."""
    name = f"bulk_{table.name}"
    quoted = ", ".join(f'"{column}"' for column in names)
    connection = session.connection()
    connection.exec_driver_sql(f'CREATE TEMPORARY TABLE "{name}" ({quoted})')
    connection.exec_driver_sql(
        f'INSERT INTO temp."{name}" VALUES ({", ".join("?" * len(names))})',
        [tuple(_sqlite_value(row[column]) for column in names) for row in rows],
    )
    return sql_table(name, *(column(n) for n in names))


def _sqlite_value(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, dict | list):
        return _payload(value)  # the JSON text a JSON row's field would give
    return _json_default(value)


def _drop_sqlite_rows(session: Session, source: TableClause) -> None:
    # after a failed insert a failed drop is left to the rollback, which drops it too
    with suppress(SQLAlchemyError):
        session.connection().exec_driver_sql(f'DROP TABLE IF EXISTS temp."{source.name}"')


def id_objects(session: Session, id_column: Any, objects: Mapping[int, Mapping[str, Any]]):
    """``objects`` (id -> a JSON object) as a derived table with the columns ``id`` and
    ``object``, from one JSON parameter: ids to join, each with values to look up by
    key (:func:`json_key`) in the same row, rather than a second derived table to
    join, which SQLite can only scan for each row of the first."""
    payload = _payload([{"id": key, "object": value} for key, value in objects.items()])
    param = bindparam("bulk_ids", payload, type_=String())
    if session.get_bind().dialect.name == "postgresql":
        return (
            func.json_to_recordset(cast(param, postgresql.JSON()))
            .table_valued(column("id", id_column.type), column("object", postgresql.JSON()))
            .render_derived("bulk_ids", with_types=True)
        )
    each = func.json_each(param).table_valued("value").alias("bulk_ids")
    return select(
        _json_field(each.c.value, "id").label("id"),
        _json_field(each.c.value, "object").label("object"),
    ).subquery("bulk_ids")


def json_key(session: Session, json_object: Any, key: Any) -> Any:
    """The value of ``key`` (a text expression) in the JSON object ``json_object``
    (PostgreSQL: as text); NULL when absent. SQLite reads a key by a path with the key
    quoted (its ``->>`` takes a bare key as a path, where a key of digits is none)."""
    if session.get_bind().dialect.name == "sqlite":
        return func.json_extract(json_object, literal('$."') + key + literal('"'))
    return json_object.op("->>")(key)


def json_array_values(session: Session, array_column: Any):
    """The elements of a JSON array column, as a table with one column ``value``
    (text), to join laterally to the column's table."""
    if session.get_bind().dialect.name == "postgresql":
        return (
            func.json_array_elements_text(array_column)
            .table_valued("value")
            .render_derived("array_values")
        )
    return func.json_each(array_column).table_valued("value").alias("array_values")
