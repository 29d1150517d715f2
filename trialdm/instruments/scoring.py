"""Rules on one response's answers that depend only on the definition: which fields
are shown (``show_if``) and the computed scores. The API, the pages (server side)
and the summaries all call these; the pages' script evaluates the same show-if trees
in the browser."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from trialdm.instruments.definitions import FieldDefinition, InstrumentDefinition, Missing
from trialdm.instruments.logic import calculated_number, evaluate_answers, truthy


def visible_fields(definition: InstrumentDefinition, answers: Mapping[str, Any]) -> set[str]:
    """Names of the fields shown given ``answers``. Conditions refer to earlier fields
    only and see a hidden field as blank, so a field shown only when a hidden field
    has some answer is hidden too."""
    shown: set[str] = set()
    seen: dict[str, Any] = {}
    for f in definition.fields:
        if f.show_if is None or truthy(evaluate_answers(f.show_if.tree, seen)):
            shown.add(f.name)
            seen[f.name] = answers.get(f.name)
    return shown


def item_score(f: FieldDefinition, value: Any) -> float | None:
    if value is None or isinstance(value, (Missing, bool)):
        return None
    if f.reverse and f.min is not None and f.max is not None:
        return f.min + f.max - value
    return value


def compute_scores(
    definition: InstrumentDefinition, answers: Mapping[str, Any], now: datetime | None = None
) -> dict[str, float | None]:
    """Each score's value, or None when too few items are answered (a sum) or the
    calculation is blank. A calculation sees the scores computed before it."""
    out: dict[str, float | None] = {}
    known: dict[str, Any] = dict(answers)
    for score in definition.scores:
        if score.calculation is not None:
            value = calculated_number(evaluate_answers(score.calculation.tree, known, now))
            out[score.name] = value
            known[score.name] = value
            continue
        values = [
            item_score(definition.fields_by_name[name], answers.get(name)) for name in score.items
        ]
        answered = [v for v in values if v is not None]
        needed = score.min_answered if score.min_answered is not None else len(score.items)
        if not answered or len(answered) < needed:
            out[score.name] = None
        elif len(answered) == len(values):
            out[score.name] = float(sum(answered))
        else:
            out[score.name] = round(sum(answered) / len(answered) * len(values), 2)
        known[score.name] = out[score.name]
    return out
