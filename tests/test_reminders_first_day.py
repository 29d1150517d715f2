"""A scan's first day: every reminder found is stored once, with one inbox entry per
active recipient and, for those mailed at once, one e-mail in their language whose
subject and body are the reminder's texts put together as a single mail says them.
The scan runs with the cyclic garbage collector paused and switches it back on."""

from __future__ import annotations

import gc
import json
from datetime import date

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from tests.seeders.instruments import sync_shipped
from trialdm.auth.models import User
from trialdm.core.models import utcnow
from trialdm.core.runtime import cyclic_collector_paused
from trialdm.core.scoping import all_sites
from trialdm.extensions import db
from trialdm.reminders import operations
from trialdm.reminders import scan as scanning
from trialdm.reminders.bulk import insert_new
from trialdm.reminders.delivery import mail_body, mail_subject
from trialdm.reminders.models import InboxEntry, OutboxMessage, Reminder
from trialdm.reminders.texts import language_of

DAY = date(2026, 11, 24)
SITES = ("BU", "UKE")


@pytest.fixture
def first_day(db_session, make_participant, make_user):
    sync_shipped(db_session)
    # per site: mailed at once in English and in German, a daily digest reader, and
    # a user no longer active (no entry, no mail)
    for site in SITES:
        make_user("research_worker", [site]).mail_preference = "immediate"
        german = make_user("research_worker", [site])
        german.mail_preference, german.locale = "immediate", "de"
        make_user("site_lead", [site]).mail_preference = "daily"
        make_user("site_lead", [site]).active = False
        make_participant(site, enrolment_date=date(2026, 6, 1))
        make_participant(site, enrolment_date=date(2026, 7, 20))
        make_participant(site, enrolment_date=date(2026, 7, 25), arm="control")
    db_session.commit()


def test_a_first_day_stores_what_a_dry_scan_finds_with_its_inboxes_and_mails(
    app, db_session, first_day
):
    with all_sites():
        dry = operations.scan_sites(db_session, [(s, DAY) for s in SITES], dry_run=True)
        found = {p.dedupe_key: (r.site_code, p) for r in dry for p in r.planned}
        db_session.rollback()
        results = operations.scan_sites(db_session, [(s, DAY) for s in SITES])
        db_session.commit()
        reminders = db_session.scalars(select(Reminder)).all()
        users = {user.id: user for user in db_session.scalars(select(User))}
        inbox = db_session.scalars(select(InboxEntry)).all()
        mails = {m.dedupe_key: m for m in db_session.scalars(select(OutboxMessage))}

    assert sum(r.created for r in results) == len(found) == len(reminders) > 0
    assert {"psw_no_contact", "assessment_due"} <= {r.rule for r in reminders}
    expected_entries, expected_mails = set(), {}
    for reminder in reminders:
        site, planned = found[reminder.dedupe_key]
        assert (reminder.site_code, reminder.rule) == (site, planned.rule)
        assert reminder.link == planned.link
        assert (reminder.title_in("en"), reminder.body_in("en")) == (planned.title, planned.body)
        assert reminder.recipients == planned.recipients and reminder.status == "delivered"
        for uid in reminder.recipients:
            user = users[uid]
            if not user.active:
                continue
            mode = "daily" if user.mail_preference == "daily" else "immediate"
            key = f"reminder:{reminder.id}:user:{uid}"
            mailed = key if mode == "immediate" else None
            expected_entries.add((reminder.id, uid, reminder.site_code, mode, mailed))
            if mailed:
                language = language_of(user.locale)
                title = reminder.title_in(language)
                expected_mails[key] = (
                    "immediate",
                    uid,
                    reminder.site_code,
                    user.email,
                    mail_subject(reminder.site_code, title),
                    mail_body(language, title, reminder.body_in(language), reminder.link),
                    "pending",
                )
    by_id = {m.id: key for key, m in mails.items()}
    entries = [
        (e.reminder_id, e.user_id, e.site_code, e.mail, by_id.get(e.mail_message_id)) for e in inbox
    ]
    assert sorted(entries, key=str) == sorted(expected_entries, key=str)
    assert {
        key: (m.kind, m.user_id, m.site_code, m.to_address, m.subject, m.body, m.status)
        for key, m in mails.items()
    } == expected_mails
    # the German readers' mails are in German, the others' in English
    languages = {language_of(users[m.user_id].locale) for m in mails.values()}
    assert languages == {"en", "de"}


def test_the_scan_pauses_the_cyclic_collector_and_switches_it_back_on(
    app, db_session, first_day, monkeypatch
):
    seen = []
    planning = scanning.plan_days

    def plan(*args, **kwargs):
        seen.append(gc.isenabled())
        return planning(*args, **kwargs)

    monkeypatch.setattr(scanning, "plan_days", plan)
    assert gc.isenabled()
    with all_sites():
        operations.scan_sites(db_session, [(s, DAY) for s in SITES])
        operations.scan_site(db_session, "BU", DAY, dry_run=True)
    db_session.rollback()
    # the sites' scan plans them in one call (the digests after every site's rules)
    assert seen == [False, False] and gc.isenabled()

    def failing(*args, **kwargs):
        raise RuntimeError("rule failed")

    monkeypatch.setattr(scanning, "plan_days", failing)
    with all_sites(), pytest.raises(RuntimeError):
        operations.scan_sites(db_session, [(s, DAY) for s in SITES])
    db_session.rollback()
    assert gc.isenabled()


def test_a_paused_collector_stays_off_until_the_outermost_pause_ends():
    assert gc.isenabled()
    with cyclic_collector_paused():
        with cyclic_collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with cyclic_collector_paused():
            pass
        assert not gc.isenabled()  # it was off before: left off
    finally:
        gc.enable()


def test_the_inbox_finds_a_reminders_entries_by_its_unique_key_alone(app, db_session):
    indexes = inspect(db.engine).get_indexes("reminder_inbox")
    assert not [ix for ix in indexes if ix["column_names"] == ["reminder_id"]]
    unique = inspect(db.engine).get_unique_constraints("reminder_inbox")
    assert [u["column_names"] for u in unique] == [["reminder_id", "user_id"]]


def test_a_bulk_insert_stores_each_value_as_given(app, db_session):
    row = {
        "rule": "test",
        "dedupe_key": 'test:quote"é\\:1',
        "subject_type": "participant",
        "subject_id": "1",
        "period": "2026-11",
        "title": 'Say "hi" – é',
        "body": "",
        "message": {"title": {"id": "%(n)s é", "values": {"n": 1, "x": None, "on": True}}},
        "link": "/participants/1",
        "recipients": [3, 1, 2],
        "site_code": None,
    }
    constants = {"local_date": DAY, "created_at": utcnow(), "status": "pending"}
    with all_sites():
        inserted = insert_new(
            db_session,
            Reminder.__table__,
            [row],
            ["dedupe_key"],
            constants=constants,
            returning=("id", "dedupe_key"),
        )
        stored = db_session.get(Reminder, inserted[0].id)
        assert inserted[0].dedupe_key == row["dedupe_key"]
        assert {name: getattr(stored, name) for name in row} == row
        assert (stored.local_date, stored.status) == (DAY, "pending")
    db_session.rollback()


def test_a_bulk_insert_stores_objects_as_compact_json_and_leaves_no_table_behind(app, db_session):
    message = {"title": {"id": 'Say "%(n)s" – é\\', "values": {"n": 1.5, "on": False}}}
    row = {
        "rule": "test",
        "dedupe_key": "test:json:1",
        "subject_type": "participant",
        "subject_id": "1",
        "period": "2026-11",
        "title": "",
        "body": "",
        "message": message,
        "link": "",
        "recipients": [2, 1],
        "site_code": None,
    }
    constants = {"local_date": DAY, "created_at": utcnow(), "status": "pending"}
    sqlite = db.engine.dialect.name == "sqlite"
    cast = "" if sqlite else "::text"
    with all_sites():
        insert_new(db_session, Reminder.__table__, [row], ["dedupe_key"], constants=constants)
        stored = db_session.execute(
            text(f"SELECT message{cast}, recipients{cast} FROM reminders WHERE rule = 'test'")
        ).one()
        # the text a row sent as one JSON document gave: compact, escapes kept
        assert tuple(stored) == (json.dumps(message, separators=(",", ":")), "[2,1]")
        broken = {**row, "dedupe_key": "test:json:2", "title": None}  # NOT NULL
        with pytest.raises(IntegrityError):
            insert_new(
                db_session, Reminder.__table__, [broken], ["dedupe_key"], constants=constants
            )
        if sqlite:
            # the rows' temporary table is gone, also after the failed insert
            left = db_session.execute(text("SELECT name FROM sqlite_temp_master")).all()
            assert left == []
    db_session.rollback()
