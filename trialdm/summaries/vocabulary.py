"""The coded vocabularies summaries print and group: the one place the tables ask
what a code is called and which codes a row such as ``F40-F41`` holds.

Labels come from the build context (the trial's diagnosis vocabulary); the
grouping is SQL so that counting stays in the database. A range includes both
ends at any depth: ``F40-F41`` holds F40, F40.1, F41 and F41.9; a single code
``F41`` holds F41 and everything under it.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_

from trialdm.summaries.spec import BuildContext

_RANGE = re.compile(r"\s*[-–]\s*")


def code_label(code: Any, ctx: BuildContext) -> str:
    return ctx.diagnosis_vocabulary.get(code, str(code))


def code_in(column: Any, pattern: str) -> ColumnElement[bool]:
    """SQL: the code in ``column`` falls under ``pattern`` (a code or a range)."""
    parts = _RANGE.split(pattern.strip())
    if len(parts) == 1:
        return or_(column == parts[0], column.startswith(parts[0]))
    low, high = parts
    return and_(column >= low, or_(column <= high, column.startswith(high)))


def code_in_any(column: Any, patterns: tuple[str, ...]) -> ColumnElement[bool]:
    if not patterns:
        return false()
    return or_(*[code_in(column, p) for p in patterns])
