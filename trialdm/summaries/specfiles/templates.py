"""Label templates of table files: ``"P{n}/{gender:initial}"``,
``"{site_name} ({site})"``, ``"Focus group {n} ({date:long_date})"``.

A field names a variable (or ``n``, the running number); the value is printed
with its label when the table declares labels for that variable. A format after
the colon says how: ``code`` (the stored value), ``label`` (the default),
``initial`` (first letter of the label, upper case), ``upper``, ``lower``,
``long_date`` (7 September 2021), ``year``.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from trialdm.summaries.engine import long_date

FORMATS = ("code", "label", "initial", "upper", "lower", "long_date", "year")


class TemplateProblem(ValueError):
    """The template cannot be read; the message says why."""


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:g}"
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class LabelTemplate:
    text: str
    parts: tuple[tuple[str, str | None, str], ...]  # (literal, field, format)

    @classmethod
    def parse(cls, text: str) -> LabelTemplate:
        parts = []
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError as exc:
            raise TemplateProblem(f"cannot read the template: {exc}") from None
        for literal, field, spec, conversion in parsed:
            if conversion:
                raise TemplateProblem(f"'!{conversion}' is not allowed; use ':' and a format")
            if field is not None:
                if not field.isidentifier():
                    raise TemplateProblem(f"'{{{field}}}' is not a variable name")
                if spec and spec not in FORMATS:
                    raise TemplateProblem(
                        f"unknown format ':{spec}' of {{{field}}}; use {', '.join(FORMATS)}"
                    )
            parts.append((literal, field, spec or "label"))
        return cls(text, tuple(parts))

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(field for _, field, _ in self.parts if field is not None)

    def render(
        self, values: Mapping[str, Any], labels: Mapping[str, Mapping[str, str]] | None = None
    ) -> str:
        out = []
        for literal, field, how in self.parts:
            out.append(literal)
            if field is None:
                continue
            out.append(shown(field, values.get(field), how, labels or {}))
        return "".join(out)

    def renderer(
        self, labels: Mapping[str, Mapping[str, str]] | None = None
    ) -> Callable[[Mapping[str, Any]], str]:
        """:meth:`render` for many rows with the same labels: each field's text kept
        by its format, value and type (a listing's labels repeat from row to row), up
        to ``MEMO_LIMIT`` of them; the running number ``n`` is printed each time."""
        labels = labels or {}
        known: dict[tuple[str, str, type, Any], str] = {}
        parts = self.parts

        def render(values: Mapping[str, Any]) -> str:
            out = []
            for literal, field, how in parts:
                out.append(literal)
                if field is None:
                    continue
                value = values.get(field)
                if field == "n":
                    out.append(shown(field, value, how, labels))
                    continue
                key = (field, how, type(value), value)
                text = known.get(key)
                if text is None:
                    text = shown(field, value, how, labels)
                    if len(known) < MEMO_LIMIT:
                        known[key] = text
                out.append(text)
            return "".join(out)

        return render


MEMO_LIMIT = 2_000


def shown(field: str, value: Any, how: str, labels: Mapping[str, Mapping[str, str]]) -> str:
    if value is None:
        # a table may name the missing value: [labels.arm] "" = "No arm"
        return "" if how == "code" else labels.get(field, {}).get("", "")
    if how == "long_date" and isinstance(value, (date, datetime)):
        return long_date(value.date() if isinstance(value, datetime) else value)
    if how == "year" and isinstance(value, (date, datetime)):
        return str(value.year)
    if how == "code":
        return _plain(value)
    text = labels.get(field, {}).get(_plain(value), _plain(value))
    if how == "initial":
        return text[:1].upper()
    if how == "upper":
        return text.upper()
    if how == "lower":
        return text.lower()
    return text
