"""An inbox entry's site is its reminder's: the database refuses any other, for one
entry or many in a statement, on insert and on update, and a reminder's site does not
change. (The entry has no foreign key to the sites of its own: its reminder's refers
to the site, which cannot be deleted while the reminder is there.)"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from trialdm.auth.models import User
from trialdm.reminders.models import InboxEntry, Reminder
from trialdm.sites.models import Site

DAY = date(2026, 12, 1)


def _reminder(session, site: str | None, key: str) -> Reminder:
    reminder = Reminder(
        rule="test",
        subject_type="participant",
        subject_id=key,
        period="2026-12",
        dedupe_key=f"test:{key}",
        title="Check",
        body="",
        link="",
        recipients=[],
        local_date=DAY,
        status="delivered",
        site_code=site,
    )
    session.add(reminder)
    session.flush()
    return reminder


def _entry(reminder: Reminder, user_id: int, site: str | None) -> dict:
    return {
        "reminder_id": reminder.id,
        "user_id": user_id,
        "site_code": site,
        "mail": "immediate",
        "created_at": DAY,
    }


def _refused(session, stmt, rows=None) -> None:
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(stmt, rows) if rows is not None else session.execute(stmt)


@pytest.fixture
def people(make_user):
    return [make_user("research_worker", ["BU"]).id, make_user("coordinator").id]


def test_entries_take_their_reminders_site(app, db_session, people):
    table = InboxEntry.__table__
    at_bu = _reminder(db_session, "BU", "a")
    trial_wide = _reminder(db_session, None, "b")
    db_session.execute(
        insert(table), [_entry(at_bu, people[0], "BU"), _entry(trial_wide, people[1], None)]
    )
    stored = db_session.execute(select(table.c.reminder_id, table.c.site_code)).all()
    assert sorted(stored) == sorted([(at_bu.id, "BU"), (trial_wide.id, None)])

    # another site, no site, or a site for a trial-wide reminder: refused
    _refused(db_session, insert(table), [_entry(at_bu, people[1], "ULM")])
    _refused(db_session, insert(table), [_entry(at_bu, people[1], None)])
    _refused(db_session, insert(table), [_entry(trial_wide, people[0], "BU")])
    # one wrong row among right ones in one statement: the statement is refused whole
    other = _reminder(db_session, "ULM", "c")
    _refused(
        db_session,
        insert(table),
        [_entry(other, people[0], "ULM"), _entry(other, people[1], "BU")],
    )
    assert db_session.scalar(select(table.c.id).where(table.c.reminder_id == other.id)) is None
    # an entry moved to another site, or to another site's reminder: refused
    _refused(
        db_session, update(table).where(table.c.reminder_id == at_bu.id).values(site_code="ULM")
    )
    _refused(
        db_session,
        update(table).where(table.c.reminder_id == at_bu.id).values(reminder_id=other.id),
    )
    # marking read (an update of other columns) goes through
    db_session.execute(update(table).values(read_at=DAY))


def test_a_reminders_site_does_not_change(app, db_session):
    reminder = _reminder(db_session, "BU", "d")
    table = Reminder.__table__
    for site in ("ULM", None):
        _refused(db_session, update(table).where(table.c.id == reminder.id).values(site_code=site))
    db_session.execute(update(table).where(table.c.id == reminder.id).values(status="pending"))
    assert db_session.get(Site, "BU") is not None


def test_an_entrys_user_must_exist_and_takes_their_entries_when_deleted(app, db_session, people):
    """The user of an inbox entry is checked once per statement (no foreign key of its
    own): an unknown user is refused, one wrong row refuses its whole statement, and
    deleting a user deletes their entries, as the key's cascade did."""
    table = InboxEntry.__table__
    reminder = _reminder(db_session, "BU", "e")
    unknown = max(people) + 1000
    _refused(db_session, insert(table), [_entry(reminder, unknown, "BU")])
    _refused(
        db_session,
        insert(table),
        [_entry(reminder, people[0], "BU"), _entry(reminder, unknown, "BU")],
    )
    assert db_session.scalar(select(func.count()).select_from(table)) == 0
    db_session.execute(insert(table), [_entry(reminder, p, "BU") for p in people])
    _refused(db_session, update(table).values(user_id=unknown))
    # a user's id never changes (their entries would lose them)
    users = User.__table__
    connection = db_session.connection()  # the users table itself, below the ORM's rules
    with pytest.raises(IntegrityError), connection.begin_nested():
        connection.execute(update(users).where(users.c.id == people[0]).values(id=unknown))
    connection.execute(delete(users).where(users.c.id == people[0]))
    left = db_session.scalars(select(table.c.user_id)).all()
    assert left == [people[1]]


def test_a_restore_writes_the_users_before_their_entries():
    from trialdm.maintenance.backup import application_tables

    names = [table.name for table in application_tables()]
    assert names.index("users") < names.index("reminder_inbox")
