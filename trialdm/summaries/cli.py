"""``trialdm tables``: checking and previewing summary table files."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from trialdm.core.scoping import all_sites


@click.group("tables")
def tables_cli() -> None:
    """Summary table files (tables/*.toml and the TABLES_PATH folders)."""


@tables_cli.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def tables_check(file: Path) -> None:
    """Check one table file: keys, variables, statistics, and that its SQL builds."""
    from trialdm.summaries.registry import instrument_definitions
    from trialdm.summaries.specfiles import TableFileError, build_spec, load_table_file
    from trialdm.summaries.specfiles.compiles import statements_build

    try:
        table = load_table_file(file, instrument_definitions(current_app.config["INSTRUMENTS_DIR"]))
        statements_build(build_spec(table), file.name)
    except TableFileError as exc:
        raise click.ClickException(f"{len(exc.problems)} problem(s):\n" + str(exc)) from None
    click.echo(
        f"{file.name}: ok: table {table.name!r}, {len(table.rows)} rows, "
        f"population {table.population}"
        + (f", columns by {', '.join(table.columns.by)}" if table.columns.by else "")
    )


@tables_cli.command("preview")
@click.argument("name")
@click.option("--scope", default="all", help="A site code, or 'all' (the default).")
@click.option("--listing-rows", default=20, show_default=True, help="Listing lines shown.")
@with_appcontext
def tables_preview(name: str, scope: str, listing_rows: int) -> None:
    """Print a table as its build would (no workbook, nothing stored)."""
    from trialdm.core.models import utcnow
    from trialdm.core.scoping import EVERY_SITE, SiteScope, scoped_to
    from trialdm.extensions import db
    from trialdm.summaries.engine import compute_table
    from trialdm.summaries.operations import build_context, table_json
    from trialdm.summaries.registry import catalogue
    from trialdm.summaries.text import render_text

    known = catalogue()
    if name not in known.specs:
        hint = "; ".join(p for p in known.problems if f"{name}.toml" in p)
        raise click.ClickException(
            f"No table {name!r}"
            + (f" (its file has problems: {hint})" if hint else "")
            + f"; tables: {', '.join(known.specs)}"
        )
    with all_sites():
        sites = {code for (code,) in db.session.execute(_site_codes())}
    if scope.lower() == "all":
        chosen = EVERY_SITE
    elif scope.upper() in sites:
        chosen = SiteScope(codes=frozenset({scope.upper()}))
    else:
        raise click.ClickException(
            f"Unknown scope {scope!r}; use 'all' or {', '.join(sorted(sites))}"
        )
    ctx = build_context(db.session, utcnow())
    with scoped_to(chosen):
        result = compute_table(known.specs[name], ctx)
        body = table_json(result, ctx)
    db.session.rollback()
    click.echo(render_text(body, listing_rows))


def _site_codes():
    from sqlalchemy import select

    from trialdm.sites.models import Site

    return select(Site.code)


COMMANDS = (tables_cli,)
