"""Day-level rules every domain shares: today, and "not in the future"."""

from __future__ import annotations

from datetime import date

from trialdm.core.errors import N_, ErrorCollector, Message


def today() -> date:
    """The calendar day entries are checked against."""
    return date.today()


def refuse_future(
    errors: ErrorCollector, field: str, value: date | None, on: date | None = None
) -> None:
    """Add "The date is in the future." to ``field`` when ``value`` is after ``on``
    (today by default); a missing date is another rule's business."""
    if value is not None and value > (on or today()):
        errors.add(field, Message(N_("The date is in the future.")))
