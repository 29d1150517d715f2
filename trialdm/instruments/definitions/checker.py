"""Reporting problems of a definition being parsed, and the value tests the parsers share."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from trialdm.instruments.definitions.model import DEFAULT_LANGUAGE, DefinitionProblem, Labels

_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


class Checker:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[DefinitionProblem] = []

    def add(self, where: str, reason: str) -> None:
        self.problems.append(DefinitionProblem(self.source, where, reason))

    def labels(self, where: str, value: Any, required: bool = True) -> Labels:
        """A string (English) or a table of language -> text; English is required."""
        if value is None:
            if required:
                self.add(where, "missing")
            return {}
        if isinstance(value, str):
            value = {DEFAULT_LANGUAGE: value}
        if not isinstance(value, Mapping):
            self.add(where, "a string or a table of language = text")
            return {}
        out: Labels = {}
        for language, text in value.items():
            if not isinstance(language, str) or not _LANGUAGE.match(language):
                self.add(f"{where}.{language}", "not a language code such as 'en' or 'lg'")
            elif not isinstance(text, str) or not text.strip():
                self.add(f"{where}.{language}", "must be non-empty text")
            else:
                out[language] = text.strip()
        if DEFAULT_LANGUAGE not in out and not any(
            p.field.startswith(where) for p in self.problems
        ):
            self.add(where, "English ('en') is required")
        return out

    def unknown_keys(self, where: str, data: Mapping[str, Any], known: set[str]) -> None:
        for key in sorted(set(data) - known):
            self.add(f"{where}.{key}" if where else key, "unknown key")


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return (is_int(value) or isinstance(value, float)) and math.isfinite(value)


def as_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None
