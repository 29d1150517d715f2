"""The backup file: a zip of JSON documents that any database trialdm runs on can read.

Layout (``format_version`` 1)::

    manifest.json                 what is inside, versions, revision, counts, checksums
    tables/NNN-<table>.jsonl      one JSON object per row, tables in dependency order
    files/<SETTING>/<path>        stored files (uploads, workbooks, export files)

Values are written by column type, not by what a driver returned, so a backup of
SQLite restores into PostgreSQL and back: timestamps as ISO 8601 in UTC, dates and
times as ISO 8601, exact decimals as strings, binary as base64, JSON columns as JSON.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import IO, Any

from sqlalchemy import Date, DateTime, LargeBinary, Numeric, Table, Time
from sqlalchemy.types import TypeDecorator

FORMAT = "trialdm-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
# Settings naming folders of files the service stores; a setting this install lacks
# (EXPORT_DIR before the exports domain) is skipped.
STORED_FILE_SETTINGS = ("UPLOAD_DIR", "WORKBOOK_DIR", "EXPORT_DIR")
CHUNK = 1 << 20


class BackupError(Exception):
    """A backup or restore cannot go on; the message says why and what to do."""


def table_member(position: int, table: Table) -> str:
    return f"tables/{position:03d}-{table.name}.jsonl"


def file_member(setting: str, relative: str) -> str:
    return f"files/{setting}/{relative}"


def _stored_type(column_type: Any) -> Any:
    """The database type under a decorated one (UTCDateTime is a DateTime)."""
    return column_type.impl if isinstance(column_type, TypeDecorator) else column_type


def encode_value(column_type: Any, value: Any) -> Any:
    if value is None:
        return None
    column_type = _stored_type(column_type)
    if isinstance(column_type, DateTime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        # Naive timestamps (SQLite) are UTC: the application writes utcnow().
        return value.replace(tzinfo=None).isoformat()
    if isinstance(column_type, (Date, Time)):
        return value.isoformat()
    if isinstance(column_type, LargeBinary):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Decimal):
        return str(value)
    return value


def decode_value(column_type: Any, value: Any, dialect: str) -> Any:
    if value is None:
        return None
    column_type = _stored_type(column_type)
    if isinstance(column_type, DateTime):
        parsed = datetime.fromisoformat(value)
        if column_type.timezone and dialect != "sqlite":
            return parsed.replace(tzinfo=UTC)
        return parsed
    if isinstance(column_type, Date):
        return date.fromisoformat(value)
    if isinstance(column_type, Time):
        return time.fromisoformat(value)
    if isinstance(column_type, LargeBinary):
        return base64.b64decode(value)
    if isinstance(column_type, Numeric):
        return Decimal(str(value)) if column_type.asdecimal else float(value)
    return value


def encode_row(table: Table, row: Mapping[str, Any]) -> str:
    """One line of a table file; keys in column order, for stable files and diffs."""
    body = {column.name: encode_value(column.type, row[column.name]) for column in table.columns}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"


def decode_row(table: Table, line: str, dialect: str) -> dict[str, Any]:
    body = json.loads(line)
    unknown = set(body) - set(table.columns.keys())
    if unknown:
        raise BackupError(f"{table.name}: columns not in this schema: {', '.join(sorted(unknown))}")
    return {
        column.name: decode_value(column.type, body.get(column.name), dialect)
        for column in table.columns
    }


class HashingWriter:
    """Counts and hashes what passes through to a zip member."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.digest.update(data)
        self.size += len(data)
        self.target.write(data)


def sha256_of(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


def read_lines(stream: IO[bytes]) -> Iterator[str]:
    for raw in stream:
        line = raw.decode("utf-8")
        if line.strip():
            yield line
