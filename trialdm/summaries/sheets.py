"""The workbook's sheet names, in the language of the build: the cover, each table's
sheet (its name, or the name's translation) and its numbers sheet. Excel allows 31
characters, none of ``[]:*?/\\``, no apostrophe at either end, and no two names
that differ only in case."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from flask import has_app_context
from flask_babel import pgettext

from trialdm.summaries.specfiles.texts import sheet_text

MAX_LENGTH = 31
_FORBIDDEN = re.compile(r"[\\/*?:\[\]]")


@dataclass(frozen=True)
class SheetNames:
    table: str
    numbers: str


def cover_name() -> str:
    # literal context and text, for the catalogs (texts.SHEET_CONTEXT)
    return excel_name(pgettext("sheet name", "Cover") if has_app_context() else "Cover")


def _numbers_word() -> str:
    return pgettext("sheet name", "values") if has_app_context() else "values"


def excel_name(name: str) -> str:
    """``name`` as Excel takes it: forbidden characters replaced, within 31 characters."""
    name = _FORBIDDEN.sub("_", name)[:MAX_LENGTH].strip("'").strip()
    return name or "_"


def sheet_names(names: Sequence[str]) -> list[SheetNames]:
    """Each table's sheet and its numbers sheet (``recruitment values``), unique."""
    taken: set[str] = {cover_name().lower()}
    suffix = " " + _FORBIDDEN.sub("_", _numbers_word())

    def unique(name: str) -> str:
        name = excel_name(name)
        candidate, counter = name, 2
        while candidate.lower() in taken:
            ending = f" {counter}"
            candidate, counter = name[: MAX_LENGTH - len(ending)] + ending, counter + 1
        taken.add(candidate.lower())
        return candidate

    found = []
    for name in names:
        shown = sheet_text(name)
        table = unique(shown)
        numbers = f"{excel_name(shown)[: MAX_LENGTH - len(suffix)]}{suffix}"
        found.append(SheetNames(table, unique(numbers)))
    return found
