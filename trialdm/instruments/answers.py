"""Answers as typed rows and back: one row per field (per chosen option of a multiple
choice), so that SQL can aggregate them, and the dict form the API speaks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from trialdm.instruments.definitions import InstrumentDefinition, Missing


@dataclass(frozen=True)
class AnswerRow:
    field: str
    position: int = 0
    value_text: str | None = None
    value_number: float | None = None
    value_date: date | None = None
    missing_code: str | None = None
    computed: bool = False


def to_rows(
    definition: InstrumentDefinition,
    values: Mapping[str, Any],
    scores: Mapping[str, float | None] | None = None,
) -> list[AnswerRow]:
    """Rows for the answered fields (blank fields have none) and the computed scores."""
    rows: list[AnswerRow] = []
    for f in definition.fields:
        value = values.get(f.name)
        if value is None:
            continue
        if isinstance(value, Missing):
            rows.append(AnswerRow(f.name, missing_code=value.code))
        elif f.type == "multiple_choice":
            rows += [AnswerRow(f.name, i, value_text=v) for i, v in enumerate(value)]
        elif f.type in ("single_choice", "text"):
            rows.append(AnswerRow(f.name, value_text=value))
        elif f.type == "yes_no":
            rows.append(
                AnswerRow(f.name, value_text="yes" if value else "no", value_number=int(value))
            )
        elif f.type == "date":
            rows.append(AnswerRow(f.name, value_date=value))
        else:
            rows.append(AnswerRow(f.name, value_number=value))
    for name, score in (scores or {}).items():
        if score is not None:
            rows.append(AnswerRow(name, value_number=score, computed=True))
    return rows


def from_rows(definition: InstrumentDefinition, rows: Iterable[Any]) -> dict[str, Any]:
    """Typed values of the answered fields from stored rows (scores left out)."""
    fields = definition.fields_by_name
    values: dict[str, Any] = {}
    for row in sorted(rows, key=lambda r: (r.field, r.position)):
        f = fields.get(row.field)
        if f is None or row.computed:
            continue
        if row.missing_code:
            values[f.name] = Missing(row.missing_code)
        elif f.type == "multiple_choice":
            values.setdefault(f.name, []).append(row.value_text)
        elif f.type in ("single_choice", "text"):
            values[f.name] = row.value_text
        elif f.type == "yes_no":
            values[f.name] = row.value_text == "yes"
        elif f.type == "date":
            values[f.name] = row.value_date
        elif f.type == "decimal":
            values[f.name] = row.value_number
        else:
            values[f.name] = None if row.value_number is None else int(row.value_number)
    return values


def to_json(value: Any) -> Any:
    if isinstance(value, Missing):
        return value.to_json()
    if isinstance(value, date):
        return value.isoformat()
    return value
