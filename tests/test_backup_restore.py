"""``trialdm backup`` and ``trialdm restore``: a database with rows in every table and
stored files goes through a backup file into a fresh database, and every table comes
back row by row; damaged files and occupied databases are refused before anything is
written. On PostgreSQL (TRIALDM_TEST_DATABASE_URL) the same, and SQLite -> PostgreSQL."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import inspect, select

from tests.conftest import (
    TEST_DATABASE_URL,
    build_app,
    make_database_url,
    rebind_celery,
    seeders,
)
from tests.conftest import (
    test_settings as settings_for,
)
from trialdm import create_app
from trialdm.core.audit import audit_context
from trialdm.core.scoping import all_sites
from trialdm.extensions import db
from trialdm.maintenance.backup import application_tables

UPLOADED = ("transcripts/BU 51.docx", b"PK\x03\x04 a transcript, byte for byte \x00\xff")


def _empty_app(tmp_path: Path, label: str, database_url: str | None = None) -> Flask:
    """An app on a database with no tables at all (restore builds the schema)."""
    settings = settings_for(tmp_path, database_url or make_database_url(tmp_path, label))
    app = create_app(settings, environ={"TRIALDM_INSTANCE_PATH": str(tmp_path / "instance")})
    app.config["WTF_CSRF_ENABLED"] = False
    return app


def _invoke(app: Flask, *args: str) -> Any:
    rebind_celery(app)
    result = app.test_cli_runner().invoke(args=list(args))
    return result


def _fill_every_table(app: Flask) -> None:
    """The demo trial, the cross-site walk's records of one site, a token, a built
    summary workbook, heartbeats, a delivery attempt and an uploaded file."""
    from trialdm.extensions import celery

    assert _invoke(app, "instruments", "sync").exit_code == 0
    result = _invoke(app, "demo", "load")
    assert result.exit_code == 0, result.output
    with app.app_context(), all_sites(), audit_context(source="system"):
        for module in seeders():
            module.seed(db.session, "BU", "backup round trip")
            db.session.commit()
        _deliver_one_mail(app)
        _finished_labels()
    assert _invoke(app, "users", "token", "admin@demo.trialdm.org").exit_code == 0
    with app.app_context():
        celery.loader.import_default_modules()
        celery.tasks["trialdm.maintenance.heartbeat"].apply(throw=True)
        from trialdm.maintenance.operations import BEAT, record_heartbeat

        with db.engine.begin() as conn:
            record_heartbeat(conn, BEAT)
    upload = Path(app.config["UPLOAD_DIR"]) / UPLOADED[0]
    upload.parent.mkdir(parents=True, exist_ok=True)
    upload.write_bytes(UPLOADED[1])


def _deliver_one_mail(app: Flask) -> None:
    """A recorded failed try of one outbox message (the demo keeps mail unsent)."""
    from trialdm.reminders.models import DeliveryAttempt, OutboxMessage

    message = db.session.scalars(select(OutboxMessage).limit(1)).first()
    assert message is not None, "the demo queues e-mail"
    db.session.add(
        DeliveryAttempt(
            message_id=message.id,
            attempt=message.attempts + 1,
            ok=False,
            error="421 4.7.0 try again later, with ünïcode",
        )
    )
    db.session.commit()


def _finished_labels() -> None:
    """The labels a finished questionnaire translation leaves (Arabic, right to left;
    the shipped Hebrew wording is stored by the sync already)."""
    from trialdm.instruments.models import InstrumentVersion
    from trialdm.instruments.operations import store_label_translations

    version = db.session.scalars(select(InstrumentVersion).limit(1)).one()
    store_label_translations(db.session, version, "ar", {"title": "استبيان"})
    db.session.commit()


def _normal(value: Any) -> Any:
    # SQLite hands back naive UTC timestamps, PostgreSQL aware ones: compare instants.
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def _rows(app: Flask) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order; the audit trail without the
    events the backup and the restore add about themselves."""
    found = {}
    with app.app_context(), db.engine.connect() as conn:
        for table in application_tables():
            statement = select(table).order_by(*table.primary_key.columns)
            if table.name == "audit_events":
                statement = statement.where(table.c.action.not_in(["backup", "restore"]))
            found[table.name] = [
                tuple(_normal(value) for value in row) for row in conn.execute(statement)
            ]
    return found


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    tmp_path = tmp_path_factory.mktemp("backup_source")
    app = build_app(tmp_path, "backup_source")
    _fill_every_table(app)
    return app


@pytest.fixture(scope="module")
def backup_file(source: Flask, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("backups") / "trialdm.zip"
    result = _invoke(source, "backup", "-o", str(target))
    assert result.exit_code == 0, result.output
    return target


def test_every_table_of_the_source_has_rows(source):
    empty = [name for name, rows in _rows(source).items() if not rows]
    assert empty == []


def test_backup_manifest_counts_checksums_and_revision(source, backup_file):
    rows = _rows(source)
    with zipfile.ZipFile(backup_file) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        with source.app_context(), db.engine.connect() as conn:
            from trialdm.maintenance.restore import current_revision

            assert manifest["alembic_revision"] == current_revision(conn)
        counted = {entry["name"]: entry["rows"] for entry in manifest["tables"]}
        # The audit trail of the backup holds everything before the backup's own event.
        assert {name: len(found) for name, found in rows.items()} == counted
        assert [entry["name"] for entry in manifest["tables"]] == [
            t.name for t in application_tables()
        ]
        uploaded = [f for f in manifest["files"] if f["setting"] == "UPLOAD_DIR"]
        assert [f["path"] for f in uploaded] == [UPLOADED[0]]
        assert any(f["setting"] == "WORKBOOK_DIR" for f in manifest["files"])
        import hashlib

        for entry in manifest["tables"] + manifest["files"]:
            assert hashlib.sha256(archive.read(entry["file"])).hexdigest() == entry["sha256"]
    with source.app_context(), all_sites():
        from trialdm.core.audit import AuditEvent

        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "backup").order_by(AuditEvent.id)
        ).first()
        assert event.source == "cli"
        assert event.changes["file"] == "trialdm.zip"


def _restore_and_compare(source: Flask, backup_file: Path, target: Flask) -> None:
    result = _invoke(target, "restore", str(backup_file))
    assert result.exit_code == 0, result.output
    assert _rows(target) == _rows(source)
    restored = Path(target.config["UPLOAD_DIR"]) / UPLOADED[0]
    assert restored.read_bytes() == UPLOADED[1]
    workbooks = sorted(p.name for p in Path(target.config["WORKBOOK_DIR"]).iterdir())
    assert workbooks == sorted(p.name for p in Path(source.config["WORKBOOK_DIR"]).iterdir())
    with target.app_context(), all_sites():
        from trialdm.core.audit import AuditEvent

        last = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert (last.action, last.source, last.changes["file"]) == (
            "restore",
            "cli",
            backup_file.name,
        )
    # New rows get new ids after the restore (PostgreSQL's sequences were moved on).
    created = _invoke(target, "users", "create", "after.restore@test.org", "--role", "admin")
    assert created.exit_code == 0, created.output


def test_round_trip_restores_every_row_of_every_table(source, backup_file, tmp_path):
    _restore_and_compare(source, backup_file, _empty_app(tmp_path, "backup_target"))


@pytest.mark.postgres
@pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs TRIALDM_TEST_DATABASE_URL")
def test_sqlite_backup_restores_into_postgresql_and_back(tmp_path):
    lite = build_app(tmp_path / "lite", "lite", DATABASE_URL=f"sqlite:///{tmp_path / 'lite.db'}")
    _fill_every_table(lite)
    first = tmp_path / "from-sqlite.zip"
    assert _invoke(lite, "backup", "-o", str(first)).exit_code == 0
    postgres = _empty_app(tmp_path / "pg", "backup_pg")
    _restore_and_compare(lite, first, postgres)
    back = tmp_path / "from-postgresql.zip"
    assert _invoke(postgres, "backup", "-o", str(back)).exit_code == 0
    again = _empty_app(tmp_path / "again", "again", f"sqlite:///{tmp_path / 'again.db'}")
    assert _invoke(again, "restore", str(back)).exit_code == 0
    assert _rows(again) == _rows(postgres)


def test_restore_refuses_a_database_that_holds_data(source, backup_file):
    before = _rows(source)
    result = _invoke(source, "restore", str(backup_file))
    assert result.exit_code == 1
    assert "restore only into an empty database" in result.output
    occupied = result.output.split("Tables with rows: ", 1)[1]
    assert "audit_events" in occupied and "participants" in occupied
    assert _rows(source) == before


def _rewrite(original: Path, target: Path, change) -> Path:
    with zipfile.ZipFile(original) as old, zipfile.ZipFile(target, "w") as new:
        for name in old.namelist():
            new.writestr(name, change(name, old.read(name)))
    return target


def test_restore_refuses_a_damaged_backup_before_writing(backup_file, tmp_path):
    def damage(name: str, data: bytes) -> bytes:
        if name.endswith("-participants.jsonl"):
            return data.replace(b'"female"', b'"male"', 1)
        return data

    damaged = _rewrite(backup_file, tmp_path / "damaged.zip", damage)
    target = _empty_app(tmp_path, "backup_damaged")
    result = _invoke(target, "restore", str(damaged))
    assert result.exit_code == 1
    assert "participants.jsonl: checksum mismatch" in result.output
    assert "Nothing restored" in result.output
    with target.app_context(), db.engine.connect() as conn:
        assert inspect(conn).get_table_names() == []


def test_restore_refuses_another_schema_revision(backup_file, tmp_path):
    def other_revision(name: str, data: bytes) -> bytes:
        if name == "manifest.json":
            manifest = json.loads(data)
            manifest["alembic_revision"] = "0123456789ab"
            return json.dumps(manifest).encode()
        return data

    older = _rewrite(backup_file, tmp_path / "older.zip", other_revision)
    result = _invoke(_empty_app(tmp_path, "backup_older"), "restore", str(older))
    assert result.exit_code == 1
    assert "The backup is of schema revision 0123456789ab; this trialdm is at" in result.output


def test_restore_refuses_what_is_not_a_backup(tmp_path):
    other = tmp_path / "notes.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("notes.txt", "hello")
    result = _invoke(_empty_app(tmp_path, "backup_notes"), "restore", str(other))
    assert result.exit_code == 1
    assert "not a trialdm backup (no manifest.json)" in result.output


def test_backup_does_not_overwrite_without_force(source, backup_file):
    before = backup_file.read_bytes()
    result = _invoke(source, "backup", "-o", str(backup_file))
    assert result.exit_code == 1
    assert "exists; choose a new name or use --force" in result.output
    assert backup_file.read_bytes() == before


def test_restore_refuses_stored_files_it_would_mix_with(backup_file, tmp_path):
    target = _empty_app(tmp_path, "backup_files")
    left = Path(target.config["WORKBOOK_DIR"]) / "summary-1.xlsx"
    left.parent.mkdir(parents=True)
    left.write_bytes(b"an older workbook")
    result = _invoke(target, "restore", str(backup_file))
    assert result.exit_code == 1
    assert f"the WORKBOOK_DIR folder {left.parent} is not empty" in result.output
    assert left.read_bytes() == b"an older workbook"
    with target.app_context(), db.engine.connect() as conn:
        assert inspect(conn).get_table_names() == []
