"""The tables of a trial, by name, in the order of the workbook's sheets.

Every table is a file: the shipped ones in the checkout's ``tables/``, the
trial's own in the folders of the ``TABLES_PATH`` setting (a file with a shipped
table's name replaces it). A file that does not pass its checks is left out and
logged with its problems (``trialdm tables check FILE`` shows them), so one bad
file never stops the others from building.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from flask import current_app

from trialdm.config import shipped
from trialdm.instruments.definitions import (
    DefinitionError,
    InstrumentDefinition,
    load_definition_folder,
)
from trialdm.summaries.spec import TableSpec
from trialdm.summaries.specfiles import TableFile, TableFileError, build_spec, load_table_file

log = logging.getLogger(__name__)
SHIPPED_TABLES = shipped("tables")


@dataclass(frozen=True)
class Catalogue:
    files: dict[str, TableFile]
    specs: dict[str, TableSpec]
    problems: tuple[str, ...]


def table_folders(setting: str) -> list[Path]:
    folders = [SHIPPED_TABLES]
    for entry in setting.split(os.pathsep):
        if entry.strip() and Path(entry).resolve() not in [f.resolve() for f in folders]:
            folders.append(Path(entry))
    return folders


def instrument_definitions(folder: str) -> dict[str, InstrumentDefinition]:
    try:
        return {d.name: d for d in load_definition_folder(Path(folder))}
    except DefinitionError as exc:
        log.warning("instrument definitions unreadable for table files: %s", exc)
        return {}


def _signature(folders: list[Path], instruments: str) -> tuple:
    """File names and modification times: a changed file is read again."""
    paths = [p for folder in folders for p in sorted(folder.glob("*.toml"))]
    paths += sorted(Path(instruments).glob("*.toml"))
    return tuple((str(p), p.stat().st_mtime_ns) for p in paths)


@lru_cache(maxsize=4)
def _load(folders: tuple[Path, ...], instruments_dir: str, signature: tuple) -> Catalogue:
    instruments = instrument_definitions(instruments_dir)
    files: dict[str, TableFile] = {}
    problems: list[str] = []
    for folder in folders:
        for path in sorted(folder.glob("*.toml")):
            try:
                table = load_table_file(path, instruments)
            except TableFileError as exc:
                problems += [f"{folder}/{p}" for p in exc.problems]
                log.warning("table file left out: %s", exc)
                continue
            files[table.name] = table
    ordered = sorted(files.values(), key=lambda t: (t.order, t.name))
    return Catalogue(
        files={t.name: t for t in ordered},
        specs={t.name: build_spec(t) for t in ordered},
        problems=tuple(problems),
    )


def read_catalogue(folders: list[Path], instruments: str) -> Catalogue:
    """The tables of these folders (cached until a file changes)."""
    return _load(tuple(folders), instruments, _signature(folders, instruments))


def catalogue() -> Catalogue:
    """The tables of the current app's settings."""
    config = current_app.config
    return read_catalogue(table_folders(config["TABLES_PATH"]), config["INSTRUMENTS_DIR"])


def specs() -> dict[str, TableSpec]:
    return catalogue().specs


def table_names() -> list[str]:
    return list(specs())
