"""``trialdm backup``: every table of one database snapshot and the stored files, in
one zip file with a manifest and SHA-256 checksums (see :mod:`.archive`).

Consistency: every table is read inside one transaction — REPEATABLE READ (a single
snapshot) and read-only on PostgreSQL; on SQLite one read transaction, which in WAL
mode sees the database as of its first read while writers go on. So a backup taken
while the service runs holds no half of a request.
"""

from __future__ import annotations

import os
import platform
import sys
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, Table, func, inspect, select

from trialdm.core.models import Base
from trialdm.maintenance import models as _models  # noqa: F401  (its table is backed up too)
from trialdm.maintenance.archive import (
    CHUNK,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    STORED_FILE_SETTINGS,
    BackupError,
    HashingWriter,
    encode_row,
    file_member,
    sha256_of,
    table_member,
)

ROWS_PER_FETCH = 1000


@dataclass
class BackupReport:
    path: Path
    sha256: str
    revision: str
    rows: dict[str, int]
    files: int
    file_bytes: int
    skipped_tables: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"wrote {self.path} ({self.path.stat().st_size} bytes)",
            f"  revision {self.revision}; {len(self.rows)} tables, "
            f"{sum(self.rows.values())} rows; {self.files} files ({self.file_bytes} bytes)",
            f"  sha256 {self.sha256}",
        ] + [f"  skipped table not in trialdm's schema: {name}" for name in self.skipped_tables]


def application_tables() -> list[Table]:
    """Every table of trialdm's schema, parents before children."""
    return list(Base.metadata.sorted_tables)


def stored_file_folders(config: Mapping[str, Any]) -> dict[str, Path]:
    return {name: Path(config[name]) for name in STORED_FILE_SETTINGS if config.get(name)}


def _snapshot(engine: Engine) -> Connection:
    if engine.dialect.name == "postgresql":
        return engine.connect().execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
    return engine.connect()


def _files(folders: Mapping[str, Path]) -> list[tuple[str, Path, str]]:
    found = []
    for setting, folder in folders.items():
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                found.append((setting, path, path.relative_to(folder).as_posix()))
    return found


def write_backup(
    engine: Engine,
    config: Mapping[str, Any],
    target: Path,
    trialdm_version: str,
    on_start: Callable[[int], None] = lambda total: None,
    on_progress: Callable[[int], None] = lambda done: None,
) -> BackupReport:
    """Write the backup to ``target`` (through a temporary file beside it, renamed at
    the end, so a failed backup leaves nothing that looks like one)."""
    tables = application_tables()
    partial = target.with_name(f".{target.name}.partial")
    try:
        with _snapshot(engine) as conn, conn.begin():
            revision = MigrationContext.configure(conn).get_current_revision()
            if revision is None:
                raise BackupError("The database has no schema (run 'trialdm db upgrade' first).")
            known = {table.name for table in tables} | {"alembic_version"}
            skipped = sorted(set(inspect(conn).get_table_names()) - known)
            counts = {
                table.name: conn.scalar(select(func.count()).select_from(table)) for table in tables
            }
            files = _files(stored_file_folders(config))
            on_start(sum(counts.values()) + len(files))
            with zipfile.ZipFile(
                partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6, allowZip64=True
            ) as archive:
                table_entries = [
                    _write_table(conn, archive, position, table, on_progress)
                    for position, table in enumerate(tables, start=1)
                ]
                file_entries = [
                    _write_file(archive, setting, path, relative, on_progress)
                    for setting, path, relative in files
                ]
                for entry in table_entries:
                    if entry["rows"] != counts[entry["name"]]:
                        raise BackupError(
                            f"{entry['name']}: counted {counts[entry['name']]} rows but read "
                            f"{entry['rows']}; the snapshot was not stable"
                        )
                manifest = {
                    "format": FORMAT,
                    "format_version": FORMAT_VERSION,
                    "created_at": datetime.now(UTC).isoformat(),
                    "trialdm_version": trialdm_version,
                    "alembic_revision": revision,
                    "database": {
                        "dialect": engine.dialect.name,
                        "server_version": ".".join(
                            map(str, engine.dialect.server_version_info or ())
                        ),
                    },
                    "python": sys.version.split()[0],
                    "host": platform.node(),
                    "tables": table_entries,
                    "files": file_entries,
                    "skipped_tables": skipped,
                }
                archive.writestr(MANIFEST, _manifest_json(manifest))
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    with target.open("rb") as stream:
        digest = sha256_of(stream)
    return BackupReport(
        path=target,
        sha256=digest,
        revision=revision,
        rows={entry["name"]: entry["rows"] for entry in table_entries},
        files=len(file_entries),
        file_bytes=sum(entry["size"] for entry in file_entries),
        skipped_tables=skipped,
    )


def _manifest_json(manifest: dict[str, Any]) -> str:
    import json

    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


def _write_table(
    conn: Connection,
    archive: zipfile.ZipFile,
    position: int,
    table: Table,
    on_progress: Callable[[int], None],
) -> dict[str, Any]:
    name = table_member(position, table)
    rows = 0
    order = list(table.primary_key.columns) or list(table.columns)
    result = conn.execution_options(stream_results=True, yield_per=ROWS_PER_FETCH).execute(
        select(table).order_by(*order)
    )
    with archive.open(name, "w", force_zip64=True) as member:
        writer = HashingWriter(member)
        for partition in result.mappings().partitions():
            writer.write("".join(encode_row(table, row) for row in partition).encode("utf-8"))
            rows += len(partition)
            on_progress(len(partition))
    return {
        "name": table.name,
        "file": name,
        "rows": rows,
        "columns": [column.name for column in table.columns],
        "sha256": writer.digest.hexdigest(),
        "size": writer.size,
    }


def _write_file(
    archive: zipfile.ZipFile,
    setting: str,
    path: Path,
    relative: str,
    on_progress: Callable[[int], None],
) -> dict[str, Any]:
    name = file_member(setting, relative)
    with path.open("rb") as source, archive.open(name, "w", force_zip64=True) as member:
        writer = HashingWriter(member)
        for chunk in iter(lambda: source.read(CHUNK), b""):
            writer.write(chunk)
    on_progress(1)
    return {
        "setting": setting,
        "path": relative,
        "file": name,
        "size": writer.size,
        "sha256": writer.digest.hexdigest(),
    }
