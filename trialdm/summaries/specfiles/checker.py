"""The collector of a table file's problems, and the checks of single values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trialdm.summaries.specfiles.model import Problem
from trialdm.summaries.specfiles.templates import LabelTemplate, TemplateProblem


class Checker:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def add(self, key: str, reason: str) -> None:
        self.problems.append(Problem(self.source, key, reason))

    def unknown_keys(self, where: str, data: Mapping[str, Any], known: set[str]) -> None:
        for key in sorted(set(data) - known):
            self.add(f"{where}.{key}" if where else key, "unknown key")

    def table(self, where: str, value: Any) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.add(where, "must be a table")
            return {}
        return value

    def text(self, where: str, value: Any, required: bool = False, default: str = "") -> str:
        if value is None:
            if required:
                self.add(where, "missing")
            return default
        if not isinstance(value, str) or (required and not value.strip()):
            self.add(where, "must be non-empty text" if required else "must be text")
            return default
        return value

    def texts(self, where: str, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.add(where, "must be a list of text")
            return ()
        return tuple(value)

    def boolean(self, where: str, value: Any, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.add(where, "must be true or false")
            return default
        return value

    def integer(self, where: str, value: Any, default: Any, low: int = 0, high: int = 6) -> Any:
        if value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            self.add(where, f"must be a whole number from {low} to {high}")
            return default
        return value

    def choice(self, where: str, value: Any, options: tuple[str, ...], default: Any) -> Any:
        if value is None:
            return default
        if value not in options:
            self.add(where, f"must be one of {', '.join(repr(o) for o in options)}")
            return default
        return value

    def template(self, where: str, value: Any, known: set[str]) -> LabelTemplate | None:
        if value is None:
            return None
        if not isinstance(value, str):
            self.add(where, "must be text")
            return None
        try:
            template = LabelTemplate.parse(value)
        except TemplateProblem as exc:
            self.add(where, str(exc))
            return None
        for name in template.fields:
            if name not in known:
                self.add(where, f"'{{{name}}}' is not a variable of this table")
        return template
