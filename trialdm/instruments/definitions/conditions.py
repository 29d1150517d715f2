"""Show-if conditions (REDCap text or the older table form) and calculations of a
definition, parsed into the tree of :mod:`trialdm.instruments.logic` and checked
against the instrument's fields."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from trialdm.instruments.definitions.checker import Checker, as_date, is_int, is_number
from trialdm.instruments.definitions.model import (
    CHOICE_TYPES,
    FieldDefinition,
    Logic,
    ScoreDefinition,
)
from trialdm.instruments.logic import LogicError, parse, to_redcap
from trialdm.instruments.logic.check import condition_tree, reference_problems

_CONDITION_OPS = ("equals", "not_equals", "any_of", "contains")


def parse_logic(
    check: Checker,
    at: str,
    text: str,
    targets: Mapping[str, Any],
    others: Iterable[str],
    scope: str,
) -> Logic | None:
    """REDCap logic text as a :class:`Logic`, or each problem reported at ``at``."""
    try:
        tree = parse(text)
    except LogicError as exc:
        check.add(at, f"{text!r}: {exc}")
        return None
    problems = reference_problems(tree, targets, tuple(others), scope=scope)
    for problem in problems:
        check.add(at, f"{text!r}: {problem}")
    return None if problems else Logic(text=text, tree=tree, source=text)


def parse_condition(
    check: Checker,
    where: str,
    raw: Any,
    earlier: Mapping[str, FieldDefinition],
    names: Iterable[str],
) -> Logic | None:
    if raw is None:
        return None
    at = f"{where}.show_if"
    if isinstance(raw, str):
        scope = "an earlier field of this instrument"
        return parse_logic(check, at, raw, earlier, names, scope)
    if not isinstance(raw, Mapping):
        check.add(
            at,
            "REDCap branching logic text such as \"[employment] = 'employed'\", or a table "
            "such as { field = 'employment', equals = 'employed' }",
        )
        return None
    check.unknown_keys(at, raw, {"field", *_CONDITION_OPS})
    ops = [op for op in _CONDITION_OPS if op in raw]
    if len(ops) != 1:
        check.add(at, f"needs exactly one of {', '.join(_CONDITION_OPS)}")
        return None
    op, value = ops[0], raw[ops[0]]
    target = earlier.get(raw.get("field"))  # type: ignore[arg-type]
    if target is None:
        check.add(f"{at}.field", f"{raw.get('field')!r} is not an earlier field of this instrument")
        return None

    def fits(v: Any) -> bool:
        if target.type in CHOICE_TYPES:
            return v in target.choice_values
        if target.type == "yes_no":
            return isinstance(v, bool)
        if target.type in ("integer", "scale"):
            return is_int(v)
        if target.type == "decimal":
            return is_number(v)
        if target.type == "text":
            return isinstance(v, str)
        return as_date(v) is not None

    if op == "contains":
        if target.type != "multiple_choice":
            check.add(f"{at}.contains", "only for a multiple-choice field")
            return None
    elif target.type == "multiple_choice":
        check.add(f"{at}.{op}", "a multiple-choice field is tested with 'contains'")
        return None
    if op == "any_of":
        if not isinstance(value, list) or not value or not all(fits(v) for v in value):
            check.add(f"{at}.any_of", f"a list of possible answers of {target.name}")
            return None
        value = list(value)
    elif not fits(value):
        check.add(f"{at}.{op}", f"{value!r} is not a possible answer of {target.name}")
        return None
    if target.type == "date":
        value = as_date(value).isoformat()  # type: ignore[union-attr]
    tree = condition_tree(target.name, op, value, target.type)
    return Logic(text=to_redcap(tree), tree=tree, source={"field": target.name, op: value})


@dataclass(frozen=True)
class _ScoreTarget:
    """An earlier score, as a calculation may refer to it."""

    type: str = "decimal"
    choice_values: tuple[Any, ...] = ()


def parse_calculation(
    check: Checker,
    where: str,
    raw: Mapping[str, Any],
    fields: Mapping[str, FieldDefinition],
    earlier: Iterable[ScoreDefinition],
) -> Logic | None:
    for key in ("items", "min_answered"):
        if key in raw:
            check.add(f"{where}.{key}", "not used by a calculation (method = 'calc')")
    text = raw.get("calculation")
    if not isinstance(text, str) or not text.strip():
        check.add(f"{where}.calculation", "REDCap calculation text such as 'sum([a],[b])'")
        return None
    targets: dict[str, Any] = {s.name: _ScoreTarget() for s in earlier}
    targets.update(fields)
    scope = "a field or an earlier score of this instrument"
    return parse_logic(check, f"{where}.calculation", text, targets, (), scope)
