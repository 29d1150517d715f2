"""Checking a tree against the fields of an instrument, and the older table form of
``show_if`` (``{ field = "x", equals = "v" }``) as a tree.

Kept apart from :mod:`trialdm.instruments.definitions` (which calls it) so that the
language does not depend on the definition classes: a target is anything with a
``type`` (the trialdm field type) and ``choice_values``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Protocol

from trialdm.instruments.logic.tree import Call, Node, Operation, Ref, Text, references


class Target(Protocol):
    @property
    def type(self) -> str: ...

    @property
    def choice_values(self) -> list[Any]: ...


def reference_problems(
    tree: Node,
    targets: Mapping[str, Target],
    others: Sequence[str] = (),
    *,
    scope: str,
) -> list[str]:
    """What is wrong with the tree's references: a name not in ``targets`` (described
    by ``scope``, e.g. "an earlier field of this instrument"; ``others`` are names that
    exist but may not be used here), a checkbox without an option or an option that
    is not one of its choices, an option on a field that is not a checkbox."""
    problems: list[str] = []
    for ref in references(tree):
        shown = f"[{ref.field}({ref.code})]" if ref.code is not None else f"[{ref.field}]"
        target = targets.get(ref.field)
        if target is None:
            if ref.field in others:
                problems.append(f"{shown}: {ref.field!r} is not {scope}")
            else:
                problems.append(
                    f"{shown}: {ref.field!r} is not {scope} (a field of another form "
                    "is not supported: logic is evaluated within one response)"
                )
            continue
        if target.type == "multiple_choice":
            if ref.code is None:
                problems.append(
                    f"{shown}: a checkbox field is tested one option at a time, [{ref.field}(code)]"
                )
            elif ref.code not in [str(v) for v in target.choice_values]:
                problems.append(f"{shown}: {ref.code!r} is not a choice of {ref.field}")
        elif ref.code is not None:
            problems.append(f"{shown}: only a checkbox field has options to test")
    return problems


def logic_text(value: Any, kind: str) -> str:
    """An answer value as the logic compares it (yes/no as 1/0, dates ISO)."""
    if kind == "yes_no":
        return "1" if value else "0"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def condition_tree(field: str, op: str, value: Any, kind: str) -> Node:
    """The tree of a table-form condition, with its meaning unchanged: the condition
    holds only when the field is answered (so ``not_equals`` is false while blank)."""
    ref = Ref(field)
    if op == "contains":
        return Operation("=", (Ref(field, str(value)), Text("1")))
    if op == "any_of":
        tree: Node = Operation("=", (ref, Text(logic_text(value[0], kind))))
        for item in value[1:]:
            tree = Operation("or", (tree, Operation("=", (ref, Text(logic_text(item, kind))))))
        return tree
    if op == "equals":
        return Operation("=", (ref, Text(logic_text(value, kind))))
    answered = Operation("not", (Call("isblankormissingcode", (ref,)),))
    return Operation("and", (Operation("<>", (ref, Text(logic_text(value, kind)))), answered))
