"""Values in bulk rows: texts in any script are stored as sent, and a date or time
in a row (not as a constant through its column's type) is refused, not written in
the JSON encoder's own form."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import select, text

from trialdm.core.models import utcnow
from trialdm.core.scoping import all_sites
from trialdm.extensions import db
from trialdm.reminders.bulk import insert_new, stored_keys
from trialdm.reminders.models import Reminder

DAY = date(2026, 11, 24)
# German, Hebrew (right to left), Swahili, and characters outside the BMP
TEXTS = {
    "de": "Überfällige Nachsorge für Jürgen Weiß (Straße 5) – bitte prüfen",
    "he": "תזכורת: פגישת מעקב עם המשתתף לא התקיימה",
    "sw": "Kikumbusho: mshiriki hajawasiliana kwa siku 14 — tafadhali piga simu",
    "other": 'emoji \U0001f9e0 and \u00e9\u0301 and a quote " and a backslash \\',
}


def _row(key: str, title: str, message: dict | None) -> dict:
    return {
        "rule": "test",
        "dedupe_key": key,
        "subject_type": "participant",
        "subject_id": "1",
        "period": "2026-11",
        "title": title,
        "body": title[::-1],
        "message": message,
        "link": "/participants/1",
        "recipients": [1],
        "site_code": None,
    }


def _constants() -> dict:
    return {"local_date": DAY, "created_at": utcnow(), "status": "pending"}


def test_non_ascii_texts_round_trip_through_a_bulk_insert(app, db_session):
    rows = [
        _row(
            f"test:{language}:{value[:12]}",
            value[:200],
            {"title": {"id": value, "values": {"name": value, "n": 3}}},
        )
        for language, value in TEXTS.items()
    ]
    cast = "" if db.engine.dialect.name == "sqlite" else "::text"
    with all_sites():
        inserted = _insert(db_session, rows)
        assert sorted(r.dedupe_key for r in inserted) == sorted(r["dedupe_key"] for r in rows)
        db_session.expire_all()
        stored = {
            r.dedupe_key: r
            for r in db_session.scalars(select(Reminder).where(Reminder.rule == "test"))
        }
        for row in rows:
            reminder = stored[row["dedupe_key"]]
            assert {name: getattr(reminder, name) for name in row} == row
        # the JSON column's text holds the same values
        messages = db_session.execute(
            text(f"SELECT dedupe_key, message{cast} FROM reminders WHERE rule = 'test'")
        ).all()
        by_key = {row["dedupe_key"]: row["message"] for row in rows}
        assert {key: json.loads(message) for key, message in messages} == by_key
        # the keys are found again when sent as one JSON parameter
        keys = [row["dedupe_key"] for row in rows] + ["test:de:Uberfallige"]
        found = stored_keys(db_session, Reminder.__table__, "dedupe_key", keys)
        assert found == {row["dedupe_key"] for row in rows}
        # sent again: nothing new
        assert not _insert(db_session, rows)
    db_session.rollback()


def _insert(session, rows: list[dict]) -> list:
    """The rows not stored yet, inserted in bulk; their dedupe keys."""
    return insert_new(
        session,
        Reminder.__table__,
        rows,
        ["dedupe_key"],
        constants=_constants(),
        returning=("dedupe_key",),
    )


@pytest.mark.parametrize(
    "value",
    [date(2026, 11, 30), datetime(2026, 11, 30, 9, tzinfo=UTC), datetime(2026, 11, 30), time(9)],
)
@pytest.mark.parametrize("where", ["field", "nested"])
def test_a_date_or_time_in_a_bulk_row_is_refused(app, db_session, value, where):
    if where == "field":
        row = {**_row("test:date", "t", None), "period": value}
    else:
        row = _row("test:date", "t", {"title": {"id": "%(due)s", "values": {"due": value}}})
    with all_sites(), pytest.raises(TypeError, match=f"^{type(value).__name__} in a bulk row"):
        insert_new(db_session, Reminder.__table__, [row], ["dedupe_key"], constants=_constants())
    db_session.rollback()
    with all_sites():
        assert db_session.scalars(select(Reminder).where(Reminder.rule == "test")).all() == []
