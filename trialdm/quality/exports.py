"""Queries as CSV: one row per query, its conversation in one cell."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from trialdm.quality.models import DataQuery

COLUMNS = (
    "id",
    "site",
    "participant_id",
    "response_id",
    "field",
    "status",
    "origin",
    "rule",
    "question",
    "opened_by",
    "opened_at",
    "answered_at",
    "closed_at",
    "conversation",
)
# A spreadsheet evaluates a cell starting with these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> str:
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _conversation(query: DataQuery) -> str:
    return "\n".join(
        f"{m.created_at:%Y-%m-%d %H:%M} {m.author_name} ({m.action}): {m.text}"
        for m in query.messages
    )


def queries_csv(rows: Iterable[DataQuery]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for q in rows:
        values = (
            q.id,
            q.site_code,
            q.participant_id,
            q.response_id,
            q.field,
            q.status,
            q.origin,
            q.rule_name,
            q.question,
            q.opened_by_name,
            q.opened_at,
            q.answered_at,
            q.closed_at,
            _conversation(q),
        )
        writer.writerow([csv_safe(v) for v in values])
    return out.getvalue()
