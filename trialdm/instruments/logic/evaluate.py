"""Evaluating the tree over one response's answers, with REDCap's semantics.

Values: a blank answer is ``None``; numbers are floats; choice codes, text and dates
(ISO ``YYYY-MM-DD``) are text; yes/no is 1 or 0; a checkbox option ``[f(code)]`` is 1
when chosen, else 0; an answer replaced by a missing-data code is that code's text in
comparisons and blank in arithmetic.

- Arithmetic with a blank or non-numeric operand is blank, as is division by zero, the
  square root of a negative number and any result that is not finite (REDCap shows
  such a calculation as blank).
- ``sum``, ``mean``, ``min`` and ``max`` ignore blank arguments; with none left they
  are blank.
- ``=`` and ``<>`` compare numerically when both sides are numbers, else as text
  (blank is ``''``); ``<``, ``<=``, ``>``, ``>=`` with a blank side are false.
- ``round``/``roundup``/``rounddown`` round half away from zero / up / down to the
  given decimal places (0 by default).
- ``datediff(a, b, units[, format][, signed])`` is ``b - a`` in years (365.2425
  days), months (30.44 days), days, hours, minutes or seconds; absolute unless
  ``signed`` is true; dates in ``ymd`` (default), ``mdy`` or ``dmy`` order, with an
  optional time; ``'today'`` and ``'now'`` are the current date and time.

The page's script (``trialdm.js``, ``logicValue``) implements the same rules for
show-if conditions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from trialdm.instruments.logic.tree import Boolean, Call, Node, Number, Operation, Ref, Text

NUMERIC = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")
_UNIT_SECONDS = {
    "y": 365.2425 * 86400,
    "M": 30.44 * 86400,
    "d": 86400.0,
    "h": 3600.0,
    "m": 60.0,
    "s": 1.0,
}
_DATE_ORDER = {
    "ymd": re.compile(r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"),
    "mdy": re.compile(r"^(?P<m>\d{1,2})-(?P<d>\d{1,2})-(?P<y>\d{4})"),
    "dmy": re.compile(r"^(?P<d>\d{1,2})-(?P<m>\d{1,2})-(?P<y>\d{4})"),
}
_TIME = re.compile(r"^\s*[T ]?(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?\s*$")


class MissingCode(str):
    """The text of a missing-data code standing in for an answer."""


Value = Any  # None | float | str | bool


def answer_value(answer: Any, code: str | None = None) -> Value:
    """An answer as the logic sees it (see the module's description). A missing-data
    code is any object with a ``code`` text (the definitions' ``Missing``, which this
    lower layer does not import)."""
    if code is not None:
        return 1.0 if isinstance(answer, list) and code in answer else 0.0
    if answer is None:
        return None
    missing = getattr(answer, "code", None)
    if isinstance(missing, str):
        return MissingCode(missing)
    if isinstance(answer, bool):
        return 1.0 if answer else 0.0
    if isinstance(answer, (int, float)):
        return float(answer)
    if isinstance(answer, (date, datetime)):
        return answer.isoformat()
    if isinstance(answer, list):
        return None  # a whole checkbox field has no single value; refused at load
    return str(answer)


def number(value: Value) -> float | None:
    """The number a value stands for, or None (blank, missing code, not numeric)."""
    if value is None or isinstance(value, MissingCode):
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str) and NUMERIC.match(value):
        return float(value)
    return None


def is_blank(value: Value) -> bool:
    return value is None or value == ""


def truthy(value: Value) -> bool:
    if isinstance(value, bool):
        return value
    n = number(value)
    return bool(n) if n is not None else False


def _text(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _compare(op: str, left: Value, right: Value) -> bool:
    a, b = number(left), number(right)
    if op in ("=", "<>"):
        numeric = a is not None and b is not None
        same = a == b if numeric else _text(left) == _text(right)
        return same if op == "=" else not same
    if is_blank(left) or is_blank(right):
        return False
    if a is not None and b is not None:
        x: Any
        y: Any
        x, y = a, b
    else:
        x, y = _text(left), _text(right)
    return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _arithmetic(op: str, left: Value, right: Value) -> float | None:
    a, b = number(left), number(right)
    if a is None or b is None:
        return None
    try:
        if op == "+":
            return _finite(a + b)
        if op == "-":
            return _finite(a - b)
        if op == "*":
            return _finite(a * b)
        if op == "/":
            return _finite(a / b) if b != 0 else None
        result = a**b
        return _finite(result) if isinstance(result, float) else None  # complex: blank
    except (OverflowError, ZeroDivisionError):
        return None


def _round(value: Value, places: Value, mode: str) -> float | None:
    n, d = number(value), number(places) if places is not None else 0.0
    if n is None or d is None or not float(d).is_integer():
        return None
    exponent = Decimal(1).scaleb(-int(d))
    return float(Decimal(repr(n)).quantize(exponent, rounding=mode))


def _parse_when(value: Value, order: str, now: datetime) -> datetime | None:
    if is_blank(value) or isinstance(value, MissingCode) or not isinstance(value, str):
        return None
    text = value.strip()
    if text.lower() == "today":
        return datetime(now.year, now.month, now.day)
    if text.lower() == "now":
        return now.replace(tzinfo=None)
    # dates stored by trialdm are ISO whatever the format argument says
    for pattern in (_DATE_ORDER["ymd"], _DATE_ORDER[order]):
        match = pattern.match(text)
        if match is None:
            continue
        rest = text[match.end() :]
        clock = _TIME.match(rest) if rest.strip() else None
        if rest.strip() and clock is None:
            return None
        try:
            return datetime(
                int(match["y"]),
                int(match["m"]),
                int(match["d"]),
                int(clock["H"]) if clock else 0,
                int(clock["M"]) if clock else 0,
                int(clock["S"] or 0) if clock else 0,
            )
        except ValueError:
            return None
    return None


def _datediff(args: list[Value], now: datetime) -> float | None:
    units = str(args[2])
    rest = list(args[3:])
    order = "ymd"
    if rest and isinstance(rest[0], str):
        order = rest.pop(0)
    signed = bool(rest and rest[0] is True)
    first, second = _parse_when(args[0], order, now), _parse_when(args[1], order, now)
    if first is None or second is None:
        return None
    seconds = (second - first).total_seconds() / _UNIT_SECONDS[units]
    return seconds if signed else abs(seconds)


def _call(name: str, args: list[Value], now: datetime) -> Value:
    if name in ("sum", "mean", "min", "max"):
        numbers = [n for n in (number(a) for a in args) if n is not None]
        if not numbers:
            return None
        if name == "sum":
            return _finite(math.fsum(numbers))
        if name == "mean":
            return _finite(math.fsum(numbers) / len(numbers))
        return min(numbers) if name == "min" else max(numbers)
    if name in ("round", "roundup", "rounddown"):
        mode = {"round": ROUND_HALF_UP, "roundup": ROUND_CEILING, "rounddown": ROUND_FLOOR}
        return _round(args[0], args[1] if len(args) > 1 else None, mode[name])
    if name == "abs":
        n = number(args[0])
        return None if n is None else abs(n)
    if name == "sqrt":
        n = number(args[0])
        return None if n is None or n < 0 else math.sqrt(n)
    if name == "datediff":
        return _datediff(args, now)
    raise AssertionError(name)  # every parsed function is handled above


def evaluate(node: Node, lookup: Callable[[Ref], Value], now: datetime | None = None) -> Value:
    """The value of ``node``; ``lookup`` gives a reference's value (see
    :func:`answer_value`)."""
    moment = now or datetime.now()

    def value(n: Node) -> Value:
        if isinstance(n, Number):
            return n.value
        if isinstance(n, Text):
            return n.value
        if isinstance(n, Boolean):
            return n.value
        if isinstance(n, Ref):
            return lookup(n)
        if isinstance(n, Operation):
            op = n.op
            if op == "and":
                return truthy(value(n.args[0])) and truthy(value(n.args[1]))
            if op == "or":
                return truthy(value(n.args[0])) or truthy(value(n.args[1]))
            if op == "not":
                return not truthy(value(n.args[0]))
            if op == "neg":
                operand = number(value(n.args[0]))
                return None if operand is None else -operand
            left, right = value(n.args[0]), value(n.args[1])
            if op in ("=", "<>", "<", "<=", ">", ">="):
                return _compare(op, left, right)
            return _arithmetic(op, left, right)
        assert isinstance(n, Call)
        if n.name == "if":
            return value(n.args[1]) if truthy(value(n.args[0])) else value(n.args[2])
        if n.name == "isblankormissingcode":
            found = value(n.args[0])
            return is_blank(found) or isinstance(found, MissingCode)
        return _call(n.name, [value(a) for a in n.args], moment)

    return value(node)


def evaluate_answers(node: Node, answers: Mapping[str, Any], now: datetime | None = None) -> Value:
    """The value of ``node`` over typed answers ``{field: value}``."""
    return evaluate(node, lambda ref: answer_value(answers.get(ref.field), ref.code), now)


def calculated_number(value: Value) -> float | None:
    """A calculation's result as stored: a finite number, or None (blank)."""
    if isinstance(value, MissingCode):
        return None
    return number(value)
