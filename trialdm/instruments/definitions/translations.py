"""Shipped wording of the instruments in other languages: one file per language and
instrument, ``instruments/translations/<language>/<instrument>.toml``.

A file names the instrument version it translates and mirrors the definition's
labels (English stays in the definition file)::

    version = 1
    title = "..."
    description = "..."

    [fields.si_01]
    label = "..."
    section = "..."
    help = "..."
    choices = { "0" = "...", "1" = "..." }

    [scores.total]
    label = "..."

``trialdm instruments sync`` stores them as finished labels of that version (the
same rows as translations finished in the translation workflow), so a language is
added to the questionnaires by adding files: no code, and the definition (whose
checksum fixes a stored version) stays as it is.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trialdm.instruments.definitions.model import (
    DefinitionError,
    DefinitionProblem,
    InstrumentDefinition,
)

TRANSLATIONS_FOLDER = "translations"
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")


@dataclass
class LabelTranslation:
    """The labels of one instrument version in one language, keyed as stored
    (``title``, ``fields.<name>.label``, ``fields.<name>.choices.<value>`` ...)."""

    instrument: str
    version: int
    language: str
    source: str
    labels: dict[str, str] = field(default_factory=dict)


def label_texts(definition: InstrumentDefinition, language: str = "en") -> dict[str, str]:
    """Every label of ``definition`` with a text in ``language``, by stored key."""
    out: dict[str, str] = {}

    def put(key: str, labels: Mapping[str, str] | None) -> None:
        if labels and labels.get(language):
            out[key] = labels[language]

    put("title", definition.title)
    put("description", definition.description)
    for f in definition.fields:
        prefix = f"fields.{f.name}"
        put(f"{prefix}.label", f.label)
        put(f"{prefix}.help", f.help)
        put(f"{prefix}.section", f.section)
        for choice in f.choices:
            put(f"{prefix}.choices.{choice.value}", choice.label)
    for score in definition.scores:
        put(f"scores.{score.name}.label", score.label)
    return out


def _flatten(data: Mapping[str, Any], prefix: str, out: dict[str, Any]) -> None:
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            _flatten(value, f"{name}.", out)
        else:
            out[name] = value


def read_translation_file(path: Path, language: str) -> tuple[LabelTranslation, list]:
    source = f"{TRANSLATIONS_FOLDER}/{language}/{path.name}"
    problems: list[DefinitionProblem] = []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        problems.append(DefinitionProblem(source, "(file)", f"not valid TOML: {exc}"))
        return LabelTranslation(path.stem, 0, language, source), problems
    version = data.pop("version", None)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        problems.append(DefinitionProblem(source, "version", "a whole number from 1"))
        version = 0
    flat: dict[str, Any] = {}
    _flatten(data, "", flat)
    translation = LabelTranslation(path.stem, version, language, source)
    for key, text in flat.items():
        if not isinstance(text, str) or not text.strip():
            problems.append(DefinitionProblem(source, key, "must be a text"))
        else:
            translation.labels[key] = text.strip()
    return translation, problems


def load_translation_folder(folder: Path) -> list[LabelTranslation]:
    """Every ``<language>/<instrument>.toml`` under ``folder`` (none when it is
    absent); all problems of all files in one error."""
    if not folder.is_dir():
        return []
    found: list[LabelTranslation] = []
    problems: list[DefinitionProblem] = []
    for language_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        language = language_dir.name
        if not _LANGUAGE.match(language):
            problems.append(
                DefinitionProblem(
                    f"{TRANSLATIONS_FOLDER}/{language}", "(folder)", "not a language code"
                )
            )
            continue
        for path in sorted(language_dir.glob("*.toml")):
            translation, more = read_translation_file(path, language)
            problems.extend(more)
            found.append(translation)
    if problems:
        raise DefinitionError(problems)
    return found


def check_translations(
    translations: Iterable[LabelTranslation], definitions: Mapping[tuple[str, int], Any]
) -> None:
    """Every file names a known instrument version and only labels it has (in
    English); problems raise :class:`DefinitionError` with file and key."""
    problems: list[DefinitionProblem] = []
    for t in translations:
        definition = definitions.get((t.instrument, t.version))
        if definition is None:
            problems.append(
                DefinitionProblem(
                    t.source, "version", f"{t.instrument} version {t.version} is not known"
                )
            )
            continue
        known = label_texts(definition)
        for key in t.labels:
            if key not in known:
                problems.append(DefinitionProblem(t.source, key, f"not a label of {t.instrument}"))
    if problems:
        raise DefinitionError(problems)
