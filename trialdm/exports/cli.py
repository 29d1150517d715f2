"""``trialdm export``: an item-level export built here."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from trialdm.core.audit import audit_context
from trialdm.core.cli import format_domain_error
from trialdm.core.errors import DomainError
from trialdm.core.scoping import all_sites


@click.command("export")
@click.option("--scope", required=True, help="'all' or a site code.")
@click.option(
    "--format",
    "export_format",
    type=click.Choice(["csv", "spss", "stata", "r", "odm", "audit"]),
    default="csv",
    show_default=True,
)
@click.option("--dataset", "datasets", multiple=True, help="Dataset (repeat; default: all).")
@click.option("--labels", type=click.Choice(["raw", "labels"]), default="raw", show_default=True)
@click.option(
    "--identifiers", type=click.Choice(["include", "exclude"]), default="include", show_default=True
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="The zip file to write.",
)
@click.option("--force", is_flag=True, help="Overwrite the output file.")
@with_appcontext
def export_cmd(
    scope: str,
    export_format: str,
    datasets: tuple[str, ...],
    labels: str,
    identifiers: str,
    output: Path,
    force: bool,
) -> None:
    """Export item-level data to a zip (the same job as the API's, built here)."""
    from trialdm.exports.operations import run_export_here

    if output.exists() and not force:
        raise click.ClickException(f"{output} exists; use --force to overwrite it.")
    with (
        all_sites(),
        audit_context(source="cli"),
        click.progressbar(length=100, label="Exporting", show_percent=True) as bar,
    ):
        try:
            rows = run_export_here(
                scope,
                export_format,
                list(datasets) or None,
                labels,
                identifiers,
                output,
                lambda percent, step: bar.update(percent - bar.pos),
            )
        except DomainError as exc:
            raise click.ClickException(format_domain_error(exc)) from None
        bar.update(100 - bar.pos)
    for name, count in rows.items():
        click.echo(f"{name}: {count} rows")
    click.echo(f"Wrote {output}")


COMMANDS = (export_cmd,)
