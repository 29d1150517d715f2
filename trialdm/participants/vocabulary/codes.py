"""Code systems of vocabularies and membership of a code in a group of codes.

A code system says what a code looks like and whether codes form a hierarchy:

- ``icd10``: WHO ICD-10 codes at any depth, ``F41`` (category), ``F41.1``
  (subcategory), ``F10.24``; the part before the dot is the category.
- ``icd11``: ICD-11 MMS stem codes, ``6B00``, ``6A20.0``, ``6A70.Z`` (extension
  codes and postcoordination clusters are not codes of a vocabulary entry).
- ``local``: the study's own codes (``schizophrenia``, ``bipolar_physical``),
  lower-case words; no hierarchy, so a group lists them one by one.

A group is written as items separated by commas: a code (that code exactly), a
range ``F40–F41`` (en dash or hyphen; every code from the first to the last at
any depth below them: F40, F40.1, F41, F41.1 ...), or a prefix ``F41*`` (F41 and
everything below it). Codes are never shortened to decide membership: ``F41.1``
as a group item matches F41.1 and nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

SYSTEMS = ("icd10", "icd11", "local")
MAX_CODE_LENGTH = 32

_PATTERNS = {
    "icd10": re.compile(r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$"),
    # ICD-11 leaves out the letters I and O; the second character is a letter.
    "icd11": re.compile(
        r"^[1-9A-HJ-NP-Z][A-HJ-NP-Z][0-9][0-9A-HJ-NP-Z](\.[0-9A-HJ-NP-Z]{1,2}){0,2}$"
    ),
    "local": re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$"),
}
_DESCRIPTIONS = {
    "icd10": "an ICD-10 code such as F41 or F41.1",
    "icd11": "an ICD-11 code such as 6B00 or 6A20.0",
    "local": "lower-case letters, digits, '_', '.' or '-' (at most 32), such as bipolar_physical",
}
_RANGE_DASHES = ("–", "—", "-")


class GroupSyntaxError(ValueError):
    """A group expression cannot be read; the message says which item and why."""


def code_problem(system: str, code: object) -> str | None:
    """Why ``code`` is not a code of ``system``, or None when it is one."""
    if not isinstance(code, str) or not code:
        return "must be a non-empty string"
    if not _PATTERNS[system].match(code):
        return f"'{code}' is not {_DESCRIPTIONS[system]}"
    return None


def is_hierarchical(system: str) -> bool:
    return system in ("icd10", "icd11")


def _sort_key(code: str) -> str:
    """Codes compare by their characters without the dot, so that F41 < F41.1 < F42."""
    return code.replace(".", "")


@dataclass(frozen=True)
class _Item:
    first: str
    last: str | None = None  # a range when set
    prefix: bool = False

    def contains(self, code: str) -> bool:
        key = _sort_key(code)
        if self.prefix:
            return key.startswith(_sort_key(self.first))
        if self.last is None:
            return code == self.first
        low, high = _sort_key(self.first), _sort_key(self.last)
        return key[: len(low)] >= low and key[: len(high)] <= high


@dataclass(frozen=True)
class CodeGroup:
    """A parsed group expression such as ``F40–F41, F43.1``."""

    text: str
    items: tuple[_Item, ...]

    def contains(self, code: str) -> bool:
        return any(item.contains(code) for item in self.items)


def parse_group(text: str, system: str) -> CodeGroup:
    """Read a group expression of ``system``; raise :class:`GroupSyntaxError` naming the
    item that is wrong. Ranges and prefixes need a hierarchical system."""
    if not isinstance(text, str) or not text.strip():
        raise GroupSyntaxError("a group is a non-empty text such as 'F40–F41, F43.1'")
    items: list[_Item] = []
    for raw in text.split(","):
        part = raw.strip()
        if not part:
            raise GroupSyntaxError(f"'{text}': an empty item between commas")
        dash = next((d for d in _RANGE_DASHES if d in part), None)
        if part.endswith("*"):
            first = part[:-1].strip().rstrip(".")
            _check_group_code(system, first, part, hierarchy=True)
            items.append(_Item(first, prefix=True))
        elif dash is not None and not is_hierarchical(system) and code_problem(system, part):
            raise GroupSyntaxError(f"'{part}': ranges and '*' need ICD codes; list {system} codes")
        elif dash is not None and is_hierarchical(system):
            first, _, last = (s.strip() for s in part.partition(dash))
            _check_group_code(system, first, part, hierarchy=True)
            _check_group_code(system, last, part, hierarchy=True)
            if _sort_key(first) > _sort_key(last):
                raise GroupSyntaxError(f"'{part}': the range runs backwards")
            items.append(_Item(first, last))
        else:
            _check_group_code(system, part, part, hierarchy=False)
            items.append(_Item(part))
    return CodeGroup(text, tuple(items))


def _check_group_code(system: str, code: str, item: str, hierarchy: bool) -> None:
    if hierarchy and not is_hierarchical(system):
        raise GroupSyntaxError(f"'{item}': ranges and '*' need ICD codes; list {system} codes")
    problem = code_problem(system, code)
    if problem:
        raise GroupSyntaxError(f"'{item}': {problem}")


def in_group(code: str, group: str, system: str = "icd10") -> bool:
    """Whether ``code`` belongs to the group expression ``group`` of ``system``."""
    return parsed_group(group, system).contains(code)


@lru_cache(maxsize=256)
def parsed_group(group: str, system: str) -> CodeGroup:
    """:func:`parse_group`, remembered (table specs ask the same groups for every code)."""
    return parse_group(group, system)
