"""``trialdm sites``: the site files."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app

from trialdm.core.cli import transactional


@click.group("sites")
def sites_cli() -> None:
    """Trial sites."""


@sites_cli.command("sync")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of site files (default: the SITES_DIR setting).",
)
@transactional
def sites_sync(folder: Path | None) -> None:
    """Load the site files idempotently and report what changed."""
    from trialdm.extensions import db
    from trialdm.sites.operations import SiteFileError, load_site_files, sync_sites

    try:
        definitions = load_site_files(folder or Path(current_app.config["SITES_DIR"]))
    except SiteFileError as exc:
        raise click.ClickException(str(exc)) from None
    for line in sync_sites(db.session, definitions).lines():
        click.echo(line)


COMMANDS = (sites_cli,)
