"""Vocabulary files: the trial's code lists, one TOML file per vocabulary in the
folder named by the ``VOCABULARIES_PATH`` setting (``vocabularies/`` of the
checkout by default; the format is described in ``vocabularies/README.md``).

A file is turned into a :class:`Vocabulary`, every problem reported with its file,
key and reason. A vocabulary answers what the rest of the service asks of it: the
entries in the order the file gives them, the label of a code (per language), the
code a typed value stands for (a code, a label or a synonym, compared without
regard to case and spacing), whether "other" may be recorded and with what, and
whether a code belongs to a group such as ``F40–F41``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from trialdm.participants.vocabulary.codes import (
    SYSTEMS,
    GroupSyntaxError,
    code_problem,
    parse_group,
    parsed_group,
)

OTHER_CODE = "other"
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_")
_TOP_KEYS = {
    "name",
    "title",
    "system",
    "language",
    "source",
    "mapping",
    "other",
    "groups",
    "entries",
}
_ENTRY_KEYS = {"code", "label", "labels", "synonyms", "maps_to"}
_OTHER_KEYS = {"allowed", "requires_text", "label", "labels", "synonyms"}
_GROUP_KEYS = {"codes", "label"}
MAX_WORDING = 200


def normalise_words(text: str) -> str:
    """How typed values are compared: case-insensitive, runs of spaces as one."""
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class VocabularyProblem:
    file: str
    key: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.problem}"


class VocabularyError(Exception):
    """A vocabulary file is invalid or missing; every problem is listed."""

    def __init__(self, problems: list[VocabularyProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Entry:
    code: str
    label: str
    labels: Mapping[str, str] = field(default_factory=dict)
    synonyms: tuple[str, ...] = ()
    maps_to: str | None = None

    def label_in(self, language: str | None) -> str:
        return self.labels.get(language, self.label) if language else self.label


@dataclass(frozen=True)
class OtherRule:
    """Whether a value outside the list may be recorded as ``other``, and whether
    it then needs a description."""

    allowed: bool = True
    requires_text: bool = True
    label: str = "Other"
    labels: Mapping[str, str] = field(default_factory=dict)
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Group:
    """A named group of codes declared by the vocabulary (e.g. an ICD-10 block)."""

    codes: str
    label: str


@dataclass(frozen=True)
class Vocabulary:
    name: str
    title: str
    system: str
    entries: tuple[Entry, ...]
    other: OtherRule = field(default_factory=OtherRule)
    groups: tuple[Group, ...] = ()
    language: str = "en"
    source: str = ""
    mapping: str | None = None  # code system of the entries' maps_to
    _by_code: dict[str, Entry] = field(init=False, repr=False, compare=False)
    _by_words: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_code = {entry.code: entry for entry in self.entries}
        words: dict[str, str] = {}
        for code, wordings in self._wordings():
            for wording in wordings:
                words.setdefault(normalise_words(wording), code)
        object.__setattr__(self, "_by_code", by_code)
        object.__setattr__(self, "_by_words", words)

    def _wordings(self) -> Iterable[tuple[str, list[str]]]:
        """(code, every way of writing it), codes first so a code wins over a word."""
        for entry in self.entries:
            yield entry.code, [entry.code]
        if self.other.allowed:
            yield OTHER_CODE, [OTHER_CODE]
        for entry in self.entries:
            yield entry.code, [entry.label, *entry.labels.values(), *entry.synonyms]
        if self.other.allowed:
            yield OTHER_CODE, [self.other.label, *self.other.labels.values(), *self.other.synonyms]

    def __contains__(self, code: object) -> bool:
        return code in self._by_code or (self.other.allowed and code == OTHER_CODE)

    def entry(self, code: str) -> Entry | None:
        return self._by_code.get(code)

    def label(self, code: str, language: str | None = None) -> str:
        """The label of a code (in ``language`` when the file gives one); an unknown
        code (one recorded under an earlier vocabulary) is shown as it is."""
        if code == OTHER_CODE:
            other = self.other
            return other.labels.get(language, other.label) if language else other.label
        entry = self._by_code.get(code)
        return entry.label_in(language) if entry else code

    def labels(self, language: str | None = None) -> dict[str, str]:
        """code -> label in the file's order, ``other`` last when it is allowed."""
        out = {entry.code: entry.label_in(language) for entry in self.entries}
        if self.other.allowed:
            out[OTHER_CODE] = self.label(OTHER_CODE, language)
        return out

    def grouped_labels(
        self, language: str | None = None
    ) -> list[tuple[str | None, list[tuple[str, str]]]]:
        """:meth:`labels` under the file's groups, in the file's order: [(group label,
        [(code, label), ...]), ...]; codes of no group and ``other`` last, under None."""
        grouped: list[tuple[str | None, list[tuple[str, str]]]] = [
            (group.label, []) for group in self.groups
        ]
        rest: list[tuple[str, str]] = []
        for code, label in self.labels(language).items():
            home = next(
                (
                    items
                    for (_, items), group in zip(grouped, self.groups, strict=True)
                    if self.in_group(code, group.codes)
                ),
                rest,
            )
            home.append((code, label))
        return [(label, items) for label, items in grouped if items] + (
            [(None, rest)] if rest else []
        )

    def resolve(self, value: str) -> str | None:
        """The code a typed value stands for: the code itself, a label (any language)
        or a synonym, compared without regard to case and spacing; None if none."""
        if value in self:
            return value
        return self._by_words.get(normalise_words(value))

    def wordings(self) -> list[str]:
        """Every code, label and synonym, as compared (see :func:`normalise_words`)."""
        return list(self._by_words)

    def in_group(self, code: str, group: str) -> bool:
        """Whether ``code`` belongs to ``group`` (``F40–F41``, ``F41.1``, ``F41*`` or a
        list of these). A group may be written in the vocabulary's own codes or, when
        entries map to ICD codes, in those: a local code belongs when its mapped code
        does. Raises ``GroupSyntaxError`` when the group is written in neither."""
        if code == OTHER_CODE:
            return False
        entry = self._by_code.get(code)
        candidates = [(self.system, code)]
        if self.mapping:
            candidates.append((self.mapping, entry.maps_to if entry else None))
        errors: list[str] = []
        for system, candidate in candidates:
            try:
                parsed = parsed_group(group, system)
            except GroupSyntaxError as exc:
                errors.append(str(exc))
                continue
            if candidate is not None and parsed.contains(candidate):
                return True
        if len(errors) == len(candidates):
            raise GroupSyntaxError(errors[0])
        return False

    def group_label(self, codes: str) -> str | None:
        return next((g.label for g in self.groups if g.codes == codes), None)


class _Reader:
    """Collects every problem of one file instead of stopping at the first."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[VocabularyProblem] = []

    def add(self, key: str, problem: str) -> None:
        self.problems.append(VocabularyProblem(self.file, key, problem))

    def text(self, data: Mapping[str, Any], name: str, key: str, required: bool) -> str | None:
        value = data.get(name)
        if value is None:
            if required:
                self.add(key, "missing")
            return None
        if not isinstance(value, str) or not value.strip():
            self.add(key, "must be a non-empty string")
            return None
        if len(value) > MAX_WORDING:
            self.add(key, f"longer than {MAX_WORDING} characters")
            return None
        return value.strip()

    def texts(self, data: Mapping[str, Any], name: str, key: str) -> tuple[str, ...]:
        value = data.get(name, [])
        if not isinstance(value, list) or not all(
            isinstance(v, str) and v.strip() and len(v) <= MAX_WORDING for v in value
        ):
            self.add(key, f"must be a list of non-empty strings (at most {MAX_WORDING} characters)")
            return ()
        return tuple(v.strip() for v in value)

    def languages(self, data: Mapping[str, Any], key: str) -> dict[str, str]:
        value = data.get("labels", {})
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in value.items()
        ):
            self.add(key, "must be a table of language = label, such as { de = '...' }")
            return {}
        return {k: v.strip() for k, v in value.items()}

    def unknown_keys(self, data: Mapping[str, Any], allowed: set[str], prefix: str) -> None:
        for name in sorted(set(data) - allowed):
            self.add(f"{prefix}{name}", f"unknown key (allowed: {', '.join(sorted(allowed))})")


def parse_vocabulary(data: Mapping[str, Any], file: str, stem: str | None = None) -> Vocabulary:
    """A vocabulary from the parsed TOML of ``file``; raises :class:`VocabularyError`."""
    r = _Reader(file)
    r.unknown_keys(data, _TOP_KEYS, "")
    name = r.text(data, "name", "name", required=True)
    if name is not None and not set(name) <= _NAME_CHARS:
        r.add("name", "lower-case letters, digits and '_' only")
    elif name is not None and stem is not None and name != stem:
        r.add("name", f"must match the file name ({stem})")
    title = r.text(data, "title", "title", required=True) or ""
    system = data.get("system")
    if system not in SYSTEMS:
        r.add("system", f"must be one of {', '.join(SYSTEMS)}")
        system = None
    language = r.text(data, "language", "language", required=False) or "en"
    source = r.text(data, "source", "source", required=False) or ""
    mapping = data.get("mapping")
    if mapping is not None and mapping not in ("icd10", "icd11"):
        r.add("mapping", "must be icd10 or icd11 (the code system of the entries' maps_to)")
        mapping = None
    other = _parse_other(r, data.get("other", {}))
    entries = _parse_entries(r, data.get("entries"), system, mapping)
    groups = _parse_groups(r, data.get("groups", []), system, mapping)
    _check_wordings(r, entries, other)
    if r.problems or name is None or system is None:
        raise VocabularyError(r.problems)
    return Vocabulary(
        name=name,
        title=title,
        system=system,
        entries=tuple(entries),
        other=other,
        groups=tuple(groups),
        language=language,
        source=source,
        mapping=mapping,
    )


def _parse_other(r: _Reader, data: Any) -> OtherRule:
    if not isinstance(data, dict):
        r.add("other", "must be a table such as { allowed = true, requires_text = true }")
        return OtherRule()
    r.unknown_keys(data, _OTHER_KEYS, "other.")
    flags = {}
    for name in ("allowed", "requires_text"):
        value = data.get(name, True)
        if not isinstance(value, bool):
            r.add(f"other.{name}", "must be true or false")
            value = True
        flags[name] = value
    return OtherRule(
        allowed=flags["allowed"],
        requires_text=flags["requires_text"],
        label=r.text(data, "label", "other.label", required=False) or "Other",
        labels=r.languages(data, "other.labels"),
        synonyms=r.texts(data, "synonyms", "other.synonyms"),
    )


def _parse_entries(r: _Reader, data: Any, system: str | None, mapping: str | None) -> list[Entry]:
    if not isinstance(data, list) or not data or not all(isinstance(e, dict) for e in data):
        r.add("entries", "must be a non-empty list of [[entries]] tables")
        return []
    entries: list[Entry] = []
    seen: set[str] = set()
    for index, item in enumerate(data):
        key = f"entries[{index + 1}]"
        r.unknown_keys(item, _ENTRY_KEYS, f"{key}.")
        code = item.get("code")
        problem = code_problem(system, code) if system else None
        if not isinstance(code, str):
            r.add(f"{key}.code", "missing" if code is None else "must be a string")
            continue
        if problem:
            r.add(f"{key}.code", problem)
        elif code == OTHER_CODE:
            r.add(f"{key}.code", "'other' is reserved: declare it with [other]")
        elif code in seen:
            r.add(f"{key}.code", f"'{code}' is listed twice")
        seen.add(code)
        label = r.text(item, "label", f"{key}.label", required=True)
        maps_to = item.get("maps_to")
        if maps_to is not None:
            if mapping is None:
                r.add(f"{key}.maps_to", "declare the code system of mappings with 'mapping'")
            elif (mapped_problem := code_problem(mapping, maps_to)) is not None:
                r.add(f"{key}.maps_to", mapped_problem)
        entries.append(
            Entry(
                code=code,
                label=label or code,
                labels=r.languages(item, f"{key}.labels"),
                synonyms=r.texts(item, "synonyms", f"{key}.synonyms"),
                maps_to=maps_to if isinstance(maps_to, str) else None,
            )
        )
    return entries


def _parse_groups(r: _Reader, data: Any, system: str | None, mapping: str | None) -> list[Group]:
    if not isinstance(data, list) or not all(isinstance(g, dict) for g in data):
        r.add("groups", "must be a list of [[groups]] tables")
        return []
    groups: list[Group] = []
    for index, item in enumerate(data):
        key = f"groups[{index + 1}]"
        r.unknown_keys(item, _GROUP_KEYS, f"{key}.")
        codes = r.text(item, "codes", f"{key}.codes", required=True)
        label = r.text(item, "label", f"{key}.label", required=True)
        if codes is None or label is None or system is None:
            continue
        try:
            parse_group(codes, system)
        except GroupSyntaxError as exc:
            try:  # a local vocabulary may group by the ICD codes its entries map to
                if mapping is None:
                    raise
                parse_group(codes, mapping)
            except GroupSyntaxError:
                r.add(f"{key}.codes", str(exc))
                continue
        groups.append(Group(codes, label))
    return groups


def _check_wordings(r: _Reader, entries: list[Entry], other: OtherRule) -> None:
    """A label or synonym must stand for one code only, or typed values would be ambiguous."""
    owner: dict[str, str] = {normalise_words(e.code): e.code for e in entries}
    owner[OTHER_CODE] = OTHER_CODE
    named = [(f"entries[{i + 1}]", e.code, e) for i, e in enumerate(entries)]
    rows: list[tuple[str, str, str]] = []
    for key, code, entry in named:
        rows += [(f"{key}.label", code, entry.label)]
        rows += [(f"{key}.labels.{lang}", code, text) for lang, text in entry.labels.items()]
        rows += [(f"{key}.synonyms", code, text) for text in entry.synonyms]
    rows += [("other.label", OTHER_CODE, other.label)]
    rows += [(f"other.labels.{lang}", OTHER_CODE, text) for lang, text in other.labels.items()]
    rows += [("other.synonyms", OTHER_CODE, text) for text in other.synonyms]
    for key, code, text in rows:
        word = normalise_words(text)
        taken = owner.setdefault(word, code)
        if taken != code:
            r.add(key, f"'{text}' already stands for '{taken}'; a wording names one code")


def load_vocabulary_file(path: Path) -> Vocabulary:
    """Read and check one file; raises :class:`VocabularyError` naming it."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VocabularyError([VocabularyProblem(path.name, "(file)", "no such file")]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise VocabularyError(
            [VocabularyProblem(path.name, "(file)", f"not valid TOML: {exc}")]
        ) from None
    return parse_vocabulary(data, path.name, stem=path.stem)


def load_vocabulary_folder(folder: Path) -> list[Vocabulary]:
    """Every vocabulary of a folder, all problems of all files together."""
    problems: list[VocabularyProblem] = []
    vocabularies: list[Vocabulary] = []
    for path in sorted(folder.glob("*.toml")):
        try:
            vocabularies.append(load_vocabulary_file(path))
        except VocabularyError as exc:
            problems += exc.problems
    if problems:
        raise VocabularyError(problems)
    return vocabularies


def vocabulary_path(folder: str | Path, name: str) -> Path:
    """The file of a vocabulary: ``name`` in ``folder``, or ``name`` itself when it is
    a path to a ``.toml`` file (a trial may point the setting at one file)."""
    return Path(_vocabulary_file(folder, name))


def _vocabulary_file(folder: str | Path, name: str) -> str:
    if name.endswith(".toml") or os.sep in name:
        return name
    return os.path.join(folder, f"{name}.toml")


def load_vocabulary(folder: str | Path, name: str) -> Vocabulary:
    """The named vocabulary, read once and again only when its file changes."""
    # Plain strings and os.stat, no pathlib: this runs for each diagnosis a request
    # checks or shows.
    path = _vocabulary_file(folder, name)
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        missing = Path(path)
        raise VocabularyError(
            [
                VocabularyProblem(
                    missing.name, "(file)", f"no vocabulary '{name}' in {missing.parent}"
                )
            ]
        ) from None
    return _load_cached(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=16)
def _load_cached(path: str, mtime_ns: int, size: int) -> Vocabulary:
    return load_vocabulary_file(Path(path))
