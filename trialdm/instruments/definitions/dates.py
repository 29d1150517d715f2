"""Date bounds of instrument fields: a fixed day (``"2015-01-01"``) or a day counted
from the day of entry (``"today"``, ``"today-30"``, ``"today+7"``: days before or
after), resolved when an answer is checked, so that "not in the future" stays true
every day without editing the instrument."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

_RELATIVE = re.compile(r"^\s*today\s*(?:([+-])\s*(\d{1,6})\s*)?$", re.IGNORECASE)


@dataclass(frozen=True, order=True)
class RelativeDate:
    """``today`` moved by ``days`` (negative: before); ordered by ``days``."""

    days: int = 0

    @property
    def text(self) -> str:
        """The file's form: ``today``, ``today-30``, ``today+7``."""
        if not self.days:
            return "today"
        return f"today{self.days:+d}"

    def on(self, today: date) -> date:
        return today + timedelta(days=self.days)

    def __str__(self) -> str:
        return self.text


DateBound = date | RelativeDate


def as_date_bound(value: Any) -> DateBound | None:
    """A bound as written in an instrument file, or None when it is neither an ISO date
    nor ``today`` with an optional ``+N``/``-N`` days."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None
    found = _RELATIVE.match(value)
    if found:
        sign, days = found.groups()
        return RelativeDate(int(days) * (-1 if sign == "-" else 1) if days else 0)
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


def resolved(bound: DateBound | None, today: date) -> date | None:
    """The day a bound stands for on ``today``."""
    return bound.on(today) if isinstance(bound, RelativeDate) else bound


def bound_text(bound: DateBound) -> str:
    return bound.text if isinstance(bound, RelativeDate) else bound.isoformat()
