"""The ``trialdm`` command: Flask's CLI plus each domain's commands (its ``cli.py``).

Every command runs with every site in scope, records ``cli`` as the audit source
and commits once at the end; a domain error becomes a clear message with nothing
saved (``trialdm.core.cli``).
"""

from __future__ import annotations

import importlib

import click
from flask import Flask
from flask.cli import FlaskGroup

# Domains with commands, in the order ``trialdm --help`` lists them.
CLI_MODULES = (
    "maintenance",
    "sites",
    "auth",
    "participants",
    "qualitative",
    "instruments",
    "summaries",
    "demo",
    "reminders",
    "exports",
)


@click.group("import")
def import_cli() -> None:
    """Bulk imports (all or nothing)."""


@click.command("config")
def config_cmd() -> None:
    """List the settings (TRIALDM_* variables) and their defaults."""
    from trialdm.config import describe

    for name, default, help_text in describe():
        click.echo(f"{name:34} {default:28} {help_text}")


def register_commands(app: Flask) -> None:
    """Each domain's ``COMMANDS``, and its ``IMPORTS`` under ``trialdm import``."""
    for name in CLI_MODULES:
        module = importlib.import_module(f"trialdm.{name}.cli")
        for command in module.COMMANDS:
            app.cli.add_command(command)
        for command in getattr(module, "IMPORTS", ()):
            import_cli.add_command(command)
    app.cli.add_command(import_cli)
    app.cli.add_command(config_cmd)


def _create_app() -> Flask:
    from trialdm import create_app
    from trialdm.config import ConfigError

    try:
        return create_app()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


main = FlaskGroup(name="trialdm", create_app=_create_app, help="trialdm: trial data management.")
