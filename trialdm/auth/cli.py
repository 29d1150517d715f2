"""``trialdm users``: accounts and API tokens."""

from __future__ import annotations

import click

from trialdm.core.cli import transactional


@click.group("users")
def users_cli() -> None:
    """User accounts and API tokens."""


@users_cli.command("create")
@click.argument("email")
@click.option(
    "--role",
    required=True,
    help=(
        "research_worker, site_lead, translator, reviewer, monitor (without --site: every "
        "site), coordinator or admin"
    ),
)
@click.option("--site", "sites", multiple=True, help="Site code (repeat for several).")
@click.option("--password", help="Set a password for page login (prompted with --prompt).")
@click.option("--prompt", is_flag=True, help="Ask for the password.")
@transactional
def users_create(
    email: str, role: str, sites: tuple[str, ...], password: str | None, prompt: bool
) -> None:
    """Create a user with a role at sites."""
    from trialdm.auth.operations import create_user
    from trialdm.extensions import db

    if prompt:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    user = create_user(db.session, email, role, [s.upper() for s in sites], password)
    where = ", ".join(sites) if sites else "every site"
    click.echo(f"created {user.email}: {role} at {where}")


@users_cli.command("token")
@click.argument("email")
@click.option("--name", default="cli", help="A name to recognise the token by.")
@click.option(
    "--redcap",
    is_flag=True,
    help="A REDCap-style token (32 hex characters) for PyCap, REDCapR and POST /api/.",
)
@transactional
def users_token(email: str, name: str, redcap: bool) -> None:
    """Print a new API token for a user (shown once)."""
    from trialdm.auth.operations import create_token, get_user_by_email
    from trialdm.extensions import db

    user = get_user_by_email(db.session, email)
    if user is None:
        raise click.ClickException(f"No user {email}.")
    _, token = create_token(db.session, user, name, redcap=redcap)
    click.echo(token)


COMMANDS = (users_cli,)
