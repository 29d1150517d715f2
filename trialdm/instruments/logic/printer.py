"""Writing the tree back as REDCap text (parentheses only where precedence needs them).

``parse(to_redcap(tree)) == tree`` for every tree the grammar produces.
"""

from __future__ import annotations

from trialdm.instruments.logic.tree import Boolean, Call, Node, Number, Operation, Ref, Text

# higher binds tighter
_PRECEDENCE = {
    "or": 1,
    "and": 2,
    "not": 3,
    "=": 4,
    "<>": 4,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "neg": 7,
    "^": 8,
}
_ATOM = 9


def _precedence(node: Node) -> int:
    if isinstance(node, Operation):
        return _PRECEDENCE[node.op]
    if isinstance(node, Number) and node.value < 0:
        return _PRECEDENCE["neg"]
    return _ATOM


def quote(value: str) -> str:
    return f'"{value}"' if "'" in value else f"'{value}'"


def to_redcap(node: Node) -> str:
    def wrap(child: Node, minimum: int) -> str:
        text = to_redcap(child)
        return f"({text})" if _precedence(child) < minimum else text

    if isinstance(node, Number):
        return node.text
    if isinstance(node, Text):
        return quote(node.value)
    if isinstance(node, Boolean):
        return "true" if node.value else "false"
    if isinstance(node, Ref):
        return f"[{node.field}({node.code})]" if node.code is not None else f"[{node.field}]"
    if isinstance(node, Call):
        return f"{node.name}({','.join(to_redcap(a) for a in node.args)})"
    assert isinstance(node, Operation)
    level = _PRECEDENCE[node.op]
    if node.op == "not":
        return f"not {wrap(node.args[0], level)}"
    if node.op == "neg":
        return f"-{wrap(node.args[0], level)}"
    left, right = node.args
    if node.op == "^":  # right-associative; the exponent may be signed
        return f"{wrap(left, _ATOM)}^{wrap(right, _PRECEDENCE['neg'])}"
    # left-associative: a right operand of the same level needs parentheses
    comparison = level == _PRECEDENCE["="]
    return f"{wrap(left, level + 1 if comparison else level)} {node.op} {wrap(right, level + 1)}"
