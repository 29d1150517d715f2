"""``trialdm reminders``: reminder scans by hand."""

from __future__ import annotations

import click

from trialdm.core.cli import transactional


@click.group("reminders")
def reminders_cli() -> None:
    """Reminder scans (normally run by Celery beat)."""


@reminders_cli.command("scan")
@click.option("--site", "sites", multiple=True, help="Site code (repeat; default: every site).")
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Scan as if it were this day at every site (default: each site's local today).",
)
@click.option("--dry-run", is_flag=True, help="Print what would be reminded; save nothing.")
@transactional
def reminders_scan(sites: tuple[str, ...], as_of, dry_run: bool) -> None:
    """Run the reminder rules now and deliver what is new."""
    from trialdm.extensions import db
    from trialdm.reminders.operations import local_today, scan_sites, sites_to_scan

    days = [
        (site.code, as_of.date() if as_of else local_today(site))
        for site in sites_to_scan(db.session, sites)
    ]
    for result in scan_sites(db.session, days, dry_run=dry_run):
        for line in result.lines():
            click.echo(line)
    if dry_run:
        db.session.rollback()


COMMANDS = (reminders_cli,)
