"""``trialdm instruments``: definitions and REDCap interchange."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from trialdm.core.cli import transactional


@click.group("instruments")
def instruments_cli() -> None:
    """Instrument definitions (instruments/*.toml) and REDCap interchange."""


def _instrument_folder(folder: Path | None) -> Path:
    return folder or Path(current_app.config["INSTRUMENTS_DIR"])


@instruments_cli.command("sync")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of instrument files (default: the INSTRUMENTS_DIR setting).",
)
@transactional
def instruments_sync(folder: Path | None) -> None:
    """Validate every definition and store each new version (all or nothing)."""
    from trialdm.extensions import db
    from trialdm.instruments.definitions import DefinitionError, load_definition_folder
    from trialdm.instruments.definitions.translations import (
        TRANSLATIONS_FOLDER,
        load_translation_folder,
    )
    from trialdm.instruments.operations import sync_instruments

    folder = _instrument_folder(folder)
    try:
        definitions = load_definition_folder(folder)
        sources = {d.name: f"{d.name}.toml" for d in definitions}
        translations = load_translation_folder(folder / TRANSLATIONS_FOLDER)
        report = sync_instruments(db.session, definitions, sources, translations)
    except DefinitionError as exc:
        raise click.ClickException(
            f"Nothing stored; {len(exc.problems)} problem(s):\n" + str(exc)
        ) from None
    for line in report.lines():
        click.echo(line)


@instruments_cli.command("import-redcap")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write the definitions (default: the INSTRUMENTS_DIR setting).",
)
@click.option("--version", "version", default=1, show_default=True, help="Version to give.")
@click.option("--force", is_flag=True, help="Overwrite existing definition files.")
@click.option("--report", is_flag=True, help="Print what was kept, changed or dropped per field.")
@with_appcontext
def instruments_import_redcap(
    file: Path, folder: Path | None, version: int, force: bool, report: bool
) -> None:
    """Turn a REDCap data dictionary (CSV: UTF-8 or Windows-1252, ',' or ';') into
    definition files, one per form. Run 'trialdm instruments sync' afterwards to store
    them."""
    from trialdm.instruments.definitions import DefinitionError
    from trialdm.instruments.redcap import write_definition
    from trialdm.instruments.redcap_import import decode_dictionary, read_dictionary

    folder = _instrument_folder(folder)
    try:
        text = decode_dictionary(file.read_bytes(), file.name)
        result = read_dictionary(text, version=version, source=file.name)
    except DefinitionError as exc:
        raise click.ClickException(
            f"Nothing written; {len(exc.problems)} problem(s):\n" + str(exc)
        ) from None
    definitions = result.definitions
    targets = [folder / f"{d.name}.toml" for d in definitions]
    existing = [t.name for t in targets if t.exists()]
    if existing and not force:
        raise click.ClickException(
            f"Not overwriting {', '.join(existing)} (use --force, or raise the version)."
        )
    if report:
        for entry in result.report:
            click.echo(str(entry))
    folder.mkdir(parents=True, exist_ok=True)
    for definition, target in zip(definitions, targets, strict=True):
        write_definition(definition, target)
        click.echo(f"wrote {target} ({len(definition.fields)} fields)")


@instruments_cli.command("export-redcap")
@click.argument("name")
@click.option("--version", "version", type=int, help="Stored version (default: newest).")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File (default: stdout).",
)
@transactional
def instruments_export_redcap(name: str, version: int | None, output: Path | None) -> None:
    """Write a stored instrument version as a REDCap data dictionary (CSV)."""
    from trialdm.core.audit import record_event
    from trialdm.extensions import db
    from trialdm.instruments.queries import get_instrument_version
    from trialdm.instruments.redcap import export_dictionary

    found = get_instrument_version(db.session, name, version)
    text = export_dictionary([found.parsed])
    record_event(
        db.session,
        "export",
        "instrument_versions",
        found.id,
        details={"format": "redcap", "name": found.name, "version": found.version},
    )
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


COMMANDS = (instruments_cli,)
