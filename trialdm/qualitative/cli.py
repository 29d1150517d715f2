"""``trialdm import focus-groups``."""

from __future__ import annotations

from pathlib import Path

import click

from trialdm.core.audit import audit_context
from trialdm.core.cli import transactional


@click.command("focus-groups")
@click.argument("sessions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("members", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@transactional
def import_focus_groups_cmd(sessions: Path, members: Path) -> None:
    """Import focus groups (SESSIONS.csv) and their members (MEMBERS.csv); all or nothing."""
    from trialdm.extensions import db
    from trialdm.qualitative.imports import FocusGroupImportFailed, import_focus_groups

    texts = [path.read_text(encoding="utf-8-sig") for path in (sessions, members)]
    names = {"sessions": sessions.name, "members": members.name}
    with audit_context(source="import"):
        try:
            result = import_focus_groups(db.session, *texts)
        except FocusGroupImportFailed as exc:
            lines = [f"{names[p.file]} line {p.line}: {p.field}: {p.message}" for p in exc.problems]
            raise click.ClickException(
                f"Nothing imported; {len(exc.problems)} problem(s):\n" + "\n".join(lines)
            ) from None
    report = result.report()
    click.echo(
        f"imported {report['sessions']} focus groups with {report['members']} members "
        f"({report['participants_created']} new participants)"
    )
    for code, study_id in report["study_ids"].items():
        click.echo(f"  {code} -> {study_id}")


COMMANDS = ()
# Subcommands of ``trialdm import``.
IMPORTS = (import_focus_groups_cmd,)
