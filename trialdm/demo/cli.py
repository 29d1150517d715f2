"""``trialdm demo``: demonstration data."""

from __future__ import annotations

import click

from trialdm.core.cli import transactional


@click.group("demo")
def demo_cli() -> None:
    """Demonstration data."""


@demo_cli.command("load")
@click.option("--seed", default=7, show_default=True, help="Random seed.")
@transactional
def demo_load(seed: int) -> None:
    """Load demo users and data (once; a second run changes nothing)."""
    from trialdm.demo.operations import load_demo
    from trialdm.extensions import db

    for line in load_demo(db.session, seed):
        click.echo(line)


@demo_cli.command("accounts")
def demo_accounts() -> None:
    """Print every demo account with its role and sites (all share one password)."""
    from trialdm.demo.operations import DEMO_PASSWORD, DEMO_USERS
    from trialdm.web.labels import label

    width = max(len(email) for email, _, _ in DEMO_USERS)
    for email, role, sites in DEMO_USERS:
        where = ", ".join(sites) if sites else "all sites"
        click.echo(f"  {email:<{width}}  {label(role)} · {where}")
    click.echo(f"  password: {DEMO_PASSWORD}")


COMMANDS = (demo_cli,)
