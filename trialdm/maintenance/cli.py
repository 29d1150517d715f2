"""``trialdm backup``, ``trialdm restore`` and ``trialdm check``."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from trialdm.core.audit import audit_context, record_event
from trialdm.maintenance.archive import BackupError


class _Bar:
    """A click progress bar on stderr that starts when the total is known."""

    def __init__(self, label: str, enabled: bool) -> None:
        self.label = label
        self.enabled = enabled
        self.bar: Any = None

    def start(self, total: int, label: str | None = None) -> None:
        self.finish()
        if self.enabled:
            self.bar = click.progressbar(
                length=max(total, 1), label=label or self.label, file=sys.stderr
            )
            self.bar.__enter__()

    def advance(self, done: int) -> None:
        if self.bar is not None:
            self.bar.update(done)

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _record(action: str, details: dict[str, Any]) -> None:
    """Audit a maintenance command in its own short transaction (source cli)."""
    from trialdm.extensions import db

    # A fresh transaction: on SQLite a read transaction that another process wrote
    # after cannot become a write one (the checks read heartbeats the worker writes).
    db.session.rollback()
    with audit_context(source="cli"):
        record_event(db.session, action, "database", details=details)
        db.session.commit()


@click.command("backup")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Backup file to write (a .zip).",
)
@click.option("--force", is_flag=True, help="Replace an existing file.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@with_appcontext
def backup_cmd(output: Path, force: bool, quiet: bool) -> None:
    """Back up the database (one consistent snapshot) and the stored files."""
    from trialdm import __version__
    from trialdm.extensions import db
    from trialdm.maintenance.backup import write_backup

    if output.exists() and not force:
        raise click.ClickException(f"{output} exists; choose a new name or use --force.")
    bar = _Bar("backing up", enabled=not quiet)
    try:
        report = write_backup(
            db.engine,
            current_app.config,
            output,
            __version__,
            on_start=bar.start,
            on_progress=bar.advance,
        )
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        bar.finish()
    _record(
        "backup",
        {
            "file": output.name,
            "sha256": report.sha256,
            "revision": report.revision,
            "rows": sum(report.rows.values()),
            "files": report.files,
        },
    )
    for line in report.lines():
        click.echo(line)


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@with_appcontext
def restore_cmd(file: Path, quiet: bool) -> None:
    """Restore a backup into an EMPTY database (and empty file folders).

    Checksums and the schema revision are verified before anything is written; a
    database with no tables is first built by the migrations."""
    from flask_migrate import upgrade

    from trialdm.config import shipped
    from trialdm.extensions import db
    from trialdm.maintenance.restore import restore_backup

    bar = _Bar("restoring", enabled=not quiet)
    try:
        with audit_context(source="cli"):
            report = restore_backup(
                db.engine,
                current_app.config,
                file,
                shipped("migrations"),
                upgrade_empty=upgrade,
                on_start=lambda stage, total: bar.start(total, stage),
                on_progress=bar.advance,
            )
    except BackupError as exc:
        raise click.ClickException(f"Nothing restored: {exc}") from None
    finally:
        bar.finish()
    for line in report.lines():
        click.echo(line)


@click.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON object.")
@click.option(
    "--timeout",
    default=5.0,
    show_default=True,
    type=click.FloatRange(0.1, 120),
    help="Seconds to wait for each of broker, worker and mail.",
)
@click.option(
    "--skip",
    multiple=True,
    type=click.Choice(["database", "broker", "worker", "beat", "mail"]),
    help="Leave a check out (repeat).",
)
@with_appcontext
def check_cmd(as_json: bool, timeout: float, skip: tuple[str, ...]) -> None:
    """Check settings, database (reachable, at the head revision), broker, a worker,
    beat and mail; exit 1 naming what failed (for monitoring)."""
    from trialdm.maintenance.checks import run_checks

    results = run_checks(current_app, timeout, skip=set(skip))
    failed = [result.name for result in results if not result.ok]
    database_ok = any(r.name == "database" and r.ok for r in results)
    if database_ok:
        try:
            _record("check", {"failed": failed})
        except Exception:  # a monitoring probe must still answer when the audit insert fails
            logging.getLogger(__name__).exception("could not audit the check")
            failed.append("audit")
    if as_json:
        body = {"ok": not failed, "failed": failed, "checks": [r.as_dict() for r in results]}
        click.echo(json.dumps(body, indent=2))
    else:
        for result in results:
            click.echo(f"{'ok  ' if result.ok else 'FAIL'} {result.name:9} {result.detail}")
    if failed:
        if not as_json:
            click.echo(f"failed: {', '.join(failed)}", err=True)
        sys.exit(1)


COMMANDS = (backup_cmd, restore_cmd, check_cmd)
