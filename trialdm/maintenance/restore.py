"""``trialdm restore``: a backup into an empty database, all or nothing.

Before anything is written: the file must be a trialdm backup whose every member
matches its SHA-256 in the manifest, of the schema revision this trialdm is at, and
the database (and the stored-file folders) must be empty. A database with no tables
at all is first built by the migrations.

Rows are inserted as they were, ids included, with Core statements: the ORM's audit
listener does not see them, so no audit event is invented for a restored row, and
the audit trail is restored row by row as it was. Nothing is disabled for this: the
append-only triggers refuse UPDATE and DELETE of audit rows, and a restore only
inserts. One ``restore`` event is appended after the restored trail. On PostgreSQL
each id sequence is then set past the largest restored id.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, Integer, Table, exists, func, insert, inspect, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from trialdm.core.audit import record_event
from trialdm.maintenance.archive import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    BackupError,
    decode_row,
    read_lines,
    sha256_of,
)
from trialdm.maintenance.backup import application_tables, stored_file_folders

ROWS_PER_INSERT = 1000


@dataclass
class RestoreReport:
    rows: dict[str, int]
    files: int
    revision: str
    created_at: str

    def lines(self) -> list[str]:
        return [
            f"restored {sum(self.rows.values())} rows in {len(self.rows)} tables and "
            f"{self.files} files (backup of {self.created_at}, revision {self.revision})"
        ]


def read_manifest(archive: zipfile.ZipFile, source: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(archive.read(MANIFEST))
    except KeyError:
        raise BackupError(f"{source}: not a trialdm backup (no {MANIFEST})") from None
    except ValueError as exc:
        raise BackupError(f"{source}: {MANIFEST} is not valid JSON ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{source}: not a trialdm backup (format {manifest.get('format')!r})")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(
            f"{source}: backup format version {manifest.get('format_version')!r}; this trialdm "
            f"reads version {FORMAT_VERSION}"
        )
    return manifest


def verify_checksums(
    archive: zipfile.ZipFile, manifest: Mapping[str, Any], on_progress: Callable[[int], None]
) -> None:
    """Every member the manifest lists is there and has its checksum; nothing else is."""
    listed = [*manifest["tables"], *manifest["files"]]
    names = {entry["file"] for entry in listed}
    extra = sorted(set(archive.namelist()) - names - {MANIFEST})
    if extra:
        raise BackupError(f"members not in the manifest: {', '.join(extra[:5])}")
    for entry in listed:
        try:
            with archive.open(entry["file"]) as stream:
                digest = sha256_of(stream)
        except KeyError:
            raise BackupError(f"{entry['file']}: listed in the manifest but missing") from None
        except (zipfile.BadZipFile, OSError) as exc:
            raise BackupError(f"{entry['file']}: unreadable ({exc})") from None
        if digest != entry["sha256"]:
            raise BackupError(
                f"{entry['file']}: checksum mismatch (manifest {entry['sha256']}, file {digest}); "
                "the backup is damaged"
            )
        on_progress(1)


def head_revision(migrations: Path) -> str | None:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations))
    return ScriptDirectory.from_config(config).get_current_head()


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def tables_with_rows(conn: Connection, tables: list[Table]) -> list[str]:
    return [table.name for table in tables if conn.scalar(select(exists().select_from(table)))]


def _safe_relative(path: str) -> PurePosixPath:
    relative = PurePosixPath(path)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise BackupError(f"file path {path!r} points outside its folder; refusing it")
    return relative


def check_target(engine: Engine, config: Mapping[str, Any], head: str | None) -> None:
    """Refuse a database or file folder that holds anything (the schema aside)."""
    with engine.connect() as conn:
        revision = current_revision(conn)
        if revision != head:
            raise BackupError(
                f"The database is at revision {revision}, not {head}: run 'trialdm db upgrade' "
                "on an empty database (or restore into one with no tables)."
            )
        occupied = tables_with_rows(conn, application_tables())
    if occupied:
        raise BackupError(
            "Refusing to restore into a database that holds data; restore only into an empty "
            f"database. Tables with rows: {', '.join(occupied)}"
        )
    check_folders(config)


def check_folders(config: Mapping[str, Any]) -> None:
    for setting, folder in stored_file_folders(config).items():
        if folder.is_dir() and any(folder.iterdir()):
            raise BackupError(
                f"Refusing to restore: the {setting} folder {folder} is not empty; "
                "restore only into empty folders."
            )


def restore_backup(
    engine: Engine,
    config: Mapping[str, Any],
    source: Path,
    migrations: Path,
    upgrade_empty: Callable[[], None],
    on_start: Callable[[str, int], None] = lambda stage, total: None,
    on_progress: Callable[[int], None] = lambda done: None,
) -> RestoreReport:
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BackupError(f"{source}: not a readable backup ({exc})") from None
    with archive:
        manifest = read_manifest(archive, source)
        on_start("verifying", len(manifest["tables"]) + len(manifest["files"]))
        verify_checksums(archive, manifest, on_progress)
        head = head_revision(migrations)
        if manifest["alembic_revision"] != head:
            raise BackupError(
                f"The backup is of schema revision {manifest['alembic_revision']}; this trialdm "
                f"is at {head}. Restore with the trialdm version that made the backup, then "
                "upgrade."
            )
        tables = {table.name: table for table in application_tables()}
        unknown = [entry["name"] for entry in manifest["tables"] if entry["name"] not in tables]
        if unknown:
            raise BackupError(f"tables not in this schema: {', '.join(unknown)}")
        with engine.connect() as conn:
            has_tables = bool(inspect(conn).get_table_names())
        if not has_tables:
            check_folders(config)
            upgrade_empty()
        check_target(engine, config, head)
        written = _extract_files(archive, manifest, config)
        try:
            rows = _insert_tables(engine, archive, manifest, tables, source, on_start, on_progress)
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise
    return RestoreReport(
        rows=rows,
        files=len(written),
        revision=manifest["alembic_revision"],
        created_at=manifest["created_at"],
    )


def _extract_files(
    archive: zipfile.ZipFile, manifest: Mapping[str, Any], config: Mapping[str, Any]
) -> list[Path]:
    folders = stored_file_folders(config)
    written: list[Path] = []
    try:
        for entry in manifest["files"]:
            folder = folders.get(entry["setting"])
            if folder is None:
                raise BackupError(
                    f"{entry['file']}: this trialdm has no {entry['setting']} setting to put it in"
                )
            target = folder.joinpath(*_safe_relative(entry["path"]).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(entry["file"]) as stream, target.open("xb") as out:
                written.append(target)
                shutil.copyfileobj(stream, out)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return written


def _insert_tables(
    engine: Engine,
    archive: zipfile.ZipFile,
    manifest: Mapping[str, Any],
    tables: Mapping[str, Table],
    source: Path,
    on_start: Callable[[str, int], None],
    on_progress: Callable[[int], None],
) -> dict[str, int]:
    dialect = engine.dialect.name
    on_start("restoring", sum(entry["rows"] for entry in manifest["tables"]))
    rows: dict[str, int] = {}
    with engine.connect() as conn, conn.begin():
        for entry in manifest["tables"]:
            table = tables[entry["name"]]
            count = 0
            batch: list[dict[str, Any]] = []
            with archive.open(entry["file"]) as stream:
                for line_number, line in enumerate(read_lines(stream), start=1):
                    try:
                        batch.append(decode_row(table, line, dialect))
                    except (ValueError, TypeError) as exc:
                        raise BackupError(f"{entry['file']} line {line_number}: {exc}") from None
                    if len(batch) == ROWS_PER_INSERT:
                        count += _insert(conn, table, batch, entry["file"])
                        on_progress(len(batch))
                        batch = []
                if batch:
                    count += _insert(conn, table, batch, entry["file"])
                    on_progress(len(batch))
            if count != entry["rows"]:
                raise BackupError(
                    f"{entry['file']}: {count} rows, the manifest says {entry['rows']}"
                )
            rows[table.name] = count
        if dialect == "postgresql":
            reset_sequences(conn, list(tables.values()))
        record_event(
            Session(bind=conn),
            "restore",
            "database",
            details={
                "file": source.name,
                "backup_created_at": manifest["created_at"],
                "revision": manifest["alembic_revision"],
                "from_dialect": manifest["database"]["dialect"],
                "rows": sum(rows.values()),
                "files": len(manifest["files"]),
            },
        )
    return rows


def _insert(conn: Connection, table: Table, batch: list[dict[str, Any]], member: str) -> int:
    try:
        conn.execute(insert(table), batch)
    except DBAPIError as exc:
        raise BackupError(
            f"{member}: the database refused a row of {table.name}: {exc.orig}"
        ) from None
    return len(batch)


def reset_sequences(conn: Connection, tables: list[Table]) -> None:
    """Set each serial/identity sequence past the largest id, so new rows get new ids."""
    for table in tables:
        for column in table.primary_key.columns:
            if not isinstance(column.type, Integer):
                continue
            sequence = conn.scalar(select(func.pg_get_serial_sequence(table.name, column.name)))
            if sequence is None:
                continue
            largest = conn.scalar(select(func.max(column)))
            if largest is None:
                conn.execute(select(func.setval(sequence, 1, False)))
            else:
                conn.execute(select(func.setval(sequence, largest)))
