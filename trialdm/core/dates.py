"""Day-level rules every domain shares: today, and "not in the future".

"Today" is a calendar day somewhere: a trial's sites lie in several time zones, and
a date entered late in the evening in Delhi is already tomorrow in UTC. Callers that
know the record's site pass its day (:func:`trialdm.sites.queries.site_today`);
code that cannot be given it (an instrument's date bounds, checked inside the
answer schema) reads the day an operation declared with :func:`on_day`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from zoneinfo import ZoneInfo

from trialdm.core.errors import N_, ErrorCollector, Message

_DAY: ContextVar[date | None] = ContextVar("trialdm_day_of_entry", default=None)


def today(zone: str | None = None) -> date:
    """The calendar day entries are checked against: in ``zone`` (an IANA name) when
    given, else the day declared by :func:`on_day`, else the server's."""
    if zone:
        return datetime.now(ZoneInfo(zone)).date()
    return _DAY.get() or date.today()


@contextmanager
def on_day(day: date) -> Iterator[date]:
    """Within the block, :func:`today` is ``day`` (the day at the record's site)."""
    token = _DAY.set(day)
    try:
        yield day
    finally:
        _DAY.reset(token)


def refuse_future(
    errors: ErrorCollector, field: str, value: date | None, on: date | None = None
) -> None:
    """Add "The date is in the future." to ``field`` when ``value`` is after ``on``
    (today by default); a missing date is another rule's business."""
    if value is not None and value > (on or today()):
        errors.add(field, Message(N_("The date is in the future.")))
