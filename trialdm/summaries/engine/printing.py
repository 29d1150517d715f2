"""How numbers print in a table: half-up rounding, n (%), breakdowns, Excel formats."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from trialdm.summaries.engine.results import Cell
from trialdm.summaries.spec import BuildContext, TableSpec


def rounded(value: float, decimals: int) -> Decimal:
    """Half-up rounding as tables print it (Python's round() is half-even)."""
    quantum = Decimal(1).scaleb(-decimals)
    return Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP)


def fmt(value: float | None, decimals: int) -> str:
    if value is None:
        return "–"
    return f"{rounded(value, decimals):f}"


def plain(value: float | None) -> str:
    """A minimum or maximum as recorded: 29, 2.5."""
    if value is None:
        return "–"
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:g}"


def number_format(decimals: int) -> str:
    return "0" if decimals <= 0 else "0." + "0" * decimals


def long_date(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


def breakdown_text(head: str, parts: Sequence[tuple[str, str]]) -> str:
    """``4 (f=3, m=1)``: the total, then each shown part."""
    inner = ", ".join(f"{label}={shown}" for label, shown in parts)
    return f"{head} ({inner})" if inner else head


class Printer:
    """Counts as printed. Small cells are hidden afterwards, over the whole table
    (:func:`trialdm.summaries.suppression.suppress_small_cells`)."""

    def __init__(self, spec: TableSpec, ctx: BuildContext) -> None:
        self.spec = spec

    def count(self, n: int) -> Cell:
        return Cell(str(n), (n,), ("0",), names=("n",), count=n)

    def n_pct(self, n: int, denominator: int) -> Cell:
        if n == 0 and self.spec.zero is not None:
            return Cell(self.spec.zero, (0,), ("0",), names=("n",), count=0)
        if not denominator:
            return Cell(str(n), (n,), ("0",), names=("n",), count=n)
        share = n / denominator
        pct = fmt(share * 100, self.spec.pct_decimals)
        sign = "%" if self.spec.pct_sign else ""
        return Cell(
            f"{n} ({pct}{sign})",
            (n, share),
            ("0", pct_format(self.spec.pct_decimals)),
            names=("n", "%"),
            count=n,
        )

    def breakdown(self, n: int, parts: list[tuple[str, int]]) -> Cell:
        shown = tuple((a, c) for a, c in parts if c)
        return Cell(
            breakdown_text(str(n), [(a, str(c)) for a, c in shown]),
            (n, *(c for _, c in shown)),
            ("0",) * (1 + len(shown)),
            names=("n", *(f"n {a}" for a, _ in shown)),
            count=n,
            parts=shown,
        )

    def empty(self) -> Cell:
        return Cell("–", (None,), ("@",))


def pct_format(decimals: int) -> str:
    return "0%" if decimals <= 0 else "0." + "0" * decimals + "%"
