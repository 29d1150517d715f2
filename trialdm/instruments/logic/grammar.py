"""REDCap's branching-logic and calculation syntax, parsed by a grammar into the tree.

Accepted: numbers, quoted text (``'...'`` or ``"..."``; ``''`` is blank), ``true`` and
``false``, field references ``[name]`` and checkbox options ``[name(code)]``,
arithmetic ``+ - * / ^`` (``^`` binds tightest and to the right), comparisons
``= == <> != < <= > >=``, ``and``/``or``/``not`` (any case), parentheses, and the
functions of :data:`FUNCTIONS`. Anything else (another event's field ``[event][field]``,
smart variables such as ``[user-name]``, functions REDCap has but trialdm does not
evaluate) is refused with :class:`LogicError` naming the unsupported part; nothing is
approximated.
"""

from __future__ import annotations

import re
from functools import lru_cache

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, VisitError

from trialdm.instruments.logic.tree import Boolean, Call, Node, Number, Operation, Ref, Text

_GRAMMAR = r"""
?start: disjunction

?disjunction: conjunction
    | disjunction OR conjunction            -> or_
?conjunction: negation
    | conjunction AND negation              -> and_
?negation: comparison
    | NOT negation                          -> not_
?comparison: sum
    | sum COMPARE sum                       -> compare
?sum: product
    | sum ADD product                       -> arithmetic
?product: signed
    | product MUL signed                    -> arithmetic
?signed: power
    | "-" signed                            -> neg
    | "+" signed
?power: atom
    | atom "^" signed                       -> power
?atom: NUMBER                               -> number
    | STRING                                -> text
    | TRUE                                  -> true
    | FALSE                                 -> false
    | REF REF?                              -> ref
    | NAME "(" [disjunction ("," disjunction)*] ")" -> call
    | "(" disjunction ")"

OR.2: /or\b/i
AND.2: /and\b/i
NOT.2: /not\b/i
TRUE.2: /true\b/i
FALSE.2: /false\b/i
COMPARE: "<>" | "!=" | "<=" | ">=" | "==" | "=" | "<" | ">"
ADD: "+" | "-"
MUL: "*" | "/"
NUMBER: /(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/
STRING: /'[^']*'/ | /"[^"]*"/
REF: /\[[^\[\]]*\]/
NAME: /[A-Za-z_][A-Za-z0-9_]*/

%import common.WS
%ignore WS
"""

# name: (fewest, most) arguments; None = any number
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "sum": (1, None),
    "mean": (1, None),
    "min": (1, None),
    "max": (1, None),
    "round": (1, 2),
    "roundup": (1, 2),
    "rounddown": (1, 2),
    "abs": (1, 1),
    "sqrt": (1, 1),
    "if": (3, 3),
    "datediff": (3, 5),
    "isblankormissingcode": (1, 1),
}
DATEDIFF_UNITS = {"y", "M", "d", "h", "m", "s"}
DATE_FORMATS = {"ymd", "mdy", "dmy"}
_REF_BODY = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_]*)\s*(?:\(\s*([^()\s]+)\s*\))?\s*$")
_COMPARE = {"==": "=", "!=": "<>"}


class LogicError(ValueError):
    """The text is not logic trialdm can evaluate exactly. ``part`` is the offending
    fragment, ``column`` its 1-based position in the text when known."""

    def __init__(self, reason: str, part: str = "", column: int | None = None) -> None:
        self.reason = reason
        self.part = part
        self.column = column
        where = f" at column {column}" if column else ""
        super().__init__(f"{reason}{where}" + (f": {part}" if part else ""))


def _unquote(token: str) -> str:
    return token[1:-1]


def _reference(token: Token) -> Ref:
    body = token[1:-1]
    match = _REF_BODY.match(body)
    if match is None:
        raise LogicError(
            "not a field reference trialdm evaluates (smart variables are not supported)",
            str(token),
            token.column,
        )
    return Ref(match.group(1).lower(), match.group(2).strip("'\"") if match.group(2) else None)


@v_args(inline=True)
class _ToTree(Transformer):
    def number(self, token: Token) -> Node:
        return Number(float(token), str(token))

    def text(self, token: Token) -> Node:
        return Text(_unquote(token))

    def true(self, _token: Token) -> Node:
        return Boolean(True)

    def false(self, _token: Token) -> Node:
        return Boolean(False)

    def ref(self, first: Token, second: Token | None = None) -> Node:
        if second is not None:
            raise LogicError(
                "refers to a field of another event; trialdm evaluates logic within one response",
                f"{first}{second}",
                first.column,
            )
        return _reference(first)

    def call(self, name: Token, *args: Node | None) -> Node:
        function = str(name).lower()
        given = tuple(a for a in args if a is not None)
        if function not in FUNCTIONS:
            raise LogicError(
                f"function {str(name)!r} is not supported (supported: "
                f"{', '.join(sorted(FUNCTIONS))})",
                f"{name}(",
                name.column,
            )
        fewest, most = FUNCTIONS[function]
        if len(given) < fewest or (most is not None and len(given) > most):
            expected = str(fewest) if fewest == most else f"{fewest} to {most or 'any'}"
            raise LogicError(
                f"{function}() takes {expected} argument(s), not {len(given)}",
                f"{name}(",
                name.column,
            )
        if function == "datediff":
            _check_datediff(given, name)
        if function == "isblankormissingcode" and not isinstance(given[0], Ref):
            raise LogicError("isblankormissingcode() takes a field", f"{name}(", name.column)
        return Call(function, given)

    def compare(self, left: Node, op: Token, right: Node) -> Node:
        return Operation(_COMPARE.get(str(op), str(op)), (left, right))

    def arithmetic(self, left: Node, op: Token, right: Node) -> Node:
        return Operation(str(op), (left, right))

    def power(self, base: Node, exponent: Node) -> Node:
        return Operation("^", (base, exponent))

    def neg(self, operand: Node) -> Node:
        if isinstance(operand, Number):
            return Number(-operand.value, f"-{operand.text}")
        return Operation("neg", (operand,))

    def and_(self, left: Node, _op: Token, right: Node) -> Node:
        return Operation("and", (left, right))

    def or_(self, left: Node, _op: Token, right: Node) -> Node:
        return Operation("or", (left, right))

    def not_(self, _op: Token, operand: Node) -> Node:
        return Operation("not", (operand,))


def _check_datediff(args: tuple[Node, ...], name: Token) -> None:
    units = args[2]
    if not isinstance(units, Text) or units.value not in DATEDIFF_UNITS:
        raise LogicError(
            "datediff() units are one of 'y', 'M', 'd', 'h', 'm', 's'", f"{name}(", name.column
        )
    rest = list(args[3:])
    if rest and isinstance(rest[0], Text):
        if rest[0].value not in DATE_FORMATS:
            raise LogicError(
                "datediff() date format is one of 'ymd', 'mdy', 'dmy'", f"{name}(", name.column
            )
        rest.pop(0)
    if rest and not (len(rest) == 1 and isinstance(rest[0], Boolean)):
        raise LogicError(
            "datediff() takes date, date, units, optional format and optional true/false (signed)",
            f"{name}(",
            name.column,
        )


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(_GRAMMAR, parser="lalr", maybe_placeholders=True)


@lru_cache(maxsize=1024)
def parse(text: str) -> Node:
    """The tree of ``text``, or :class:`LogicError` saying what is not supported."""
    if not isinstance(text, str) or not text.strip():
        raise LogicError("empty logic")
    try:
        parsed = _parser().parse(text)
        return _ToTree().transform(parsed)
    except VisitError as exc:
        if isinstance(exc.orig_exc, LogicError):
            raise exc.orig_exc from None
        raise
    except UnexpectedEOF:
        raise LogicError("the logic ends too early (unclosed bracket or operator)") from None
    except UnexpectedCharacters as exc:
        raise LogicError(
            "unexpected character", text[exc.pos_in_stream :][:20], exc.column
        ) from None
    except UnexpectedInput as exc:
        token = getattr(exc, "token", None)
        if token is not None and getattr(token, "type", "") == "$END":
            raise LogicError("the logic ends too early (unclosed bracket or operator)") from None
        part = str(token) if token is not None else text[exc.pos_in_stream :][:20]
        raise LogicError("not understood", part, exc.column) from None
