"""The expression tree of instrument logic (show-if conditions and calculations).

One tree, whatever it was written as: REDCap's branching logic and calculation text is
parsed into it (:mod:`.grammar`), the older table form of ``show_if`` is translated into
it, the server evaluates it (:mod:`.evaluate`), the pages get it as JSON and a small
script interprets that JSON (``trialdm.js``), and :mod:`.printer` writes it back as
REDCap text.

JSON form (what :meth:`Node.to_json` gives and the page's script reads):
``{"num": 1.5}``, ``{"str": "x"}``, ``{"bool": true}``, ``{"ref": "field"}`` (with
``"code"`` for a checkbox option), ``{"op": "+", "args": [a, b]}`` for ``+ - * / ^``,
comparisons ``= <> < <= > >=``, ``and``, ``or``, ``not`` and ``neg``, and
``{"call": "round", "args": [...]}`` for functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

ARITHMETIC = ("+", "-", "*", "/", "^")
COMPARISONS = ("=", "<>", "<", "<=", ">", ">=")
LOGICAL = ("and", "or")


class Node:
    """A node of the tree; subclasses are frozen dataclasses."""

    def children(self) -> tuple[Node, ...]:
        return ()

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children():
            yield from child.walk()

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError


@dataclass(frozen=True)
class Number(Node):
    value: float
    text: str  # as written, so that printing gives the same digits back

    def to_json(self) -> dict[str, Any]:
        return {"num": self.value}


@dataclass(frozen=True)
class Text(Node):
    value: str

    def to_json(self) -> dict[str, Any]:
        return {"str": self.value}


@dataclass(frozen=True)
class Boolean(Node):
    value: bool

    def to_json(self) -> dict[str, Any]:
        return {"bool": self.value}


@dataclass(frozen=True)
class Ref(Node):
    """A field's answer: ``[name]``, or ``[name(code)]`` for one option of a checkbox
    (multiple-choice) field, which is 1 when that option is chosen and 0 otherwise."""

    field: str
    code: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ref": self.field}
        if self.code is not None:
            out["code"] = self.code
        return out


@dataclass(frozen=True)
class Operation(Node):
    """Arithmetic, comparison, ``and``/``or`` (two operands), ``not`` and ``neg`` (one)."""

    op: str
    args: tuple[Node, ...]

    def children(self) -> tuple[Node, ...]:
        return self.args

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, "args": [a.to_json() for a in self.args]}


@dataclass(frozen=True)
class Call(Node):
    name: str  # lower case
    args: tuple[Node, ...]

    def children(self) -> tuple[Node, ...]:
        return self.args

    def to_json(self) -> dict[str, Any]:
        return {"call": self.name, "args": [a.to_json() for a in self.args]}


def references(node: Node) -> list[Ref]:
    """Every field reference in the tree, in reading order."""
    return [n for n in node.walk() if isinstance(n, Ref)]
