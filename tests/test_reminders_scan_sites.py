"""A scan of many sites: the shared statements computed once for all, same findings."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select, text

from tests.seeders.instruments import sync_shipped
from trialdm.core.scoping import all_sites
from trialdm.reminders import operations
from trialdm.reminders import scan as scanning
from trialdm.reminders.models import Reminder, ScanRun

DAY = date(2026, 11, 24)
SITES = ("BU", "UKE")


@pytest.fixture
def enrolled(db_session, make_participant):
    sync_shipped(db_session)
    db_session.commit()
    # at each site: an intervention participant with no contact, one whose T1 window
    # is open, one in the control arm (only the assessment rules concern them)
    for site in SITES:
        make_participant(site, enrolment_date=date(2026, 6, 1))
        make_participant(site, enrolment_date=date(2026, 7, 20))
        make_participant(site, enrolment_date=date(2026, 7, 25), arm="control")


def temporary_tables(session) -> int:
    if session.get_bind().dialect.name == "postgresql":
        found = text("SELECT count(*) FROM pg_tables WHERE schemaname LIKE 'pg_temp%'")
    else:
        found = text("SELECT count(*) FROM sqlite_temp_master WHERE type = 'table'")
    return session.scalar(found)


def seen(planned) -> list[tuple]:
    return [(p.rule, p.dedupe_key, p.title, p.body, p.link, p.recipients) for p in planned]


def test_many_sites_find_what_each_site_alone_finds(app, db_session, enrolled):
    with all_sites():
        alone = {site: seen(operations.plan_reminders(db_session, site, DAY)) for site in SITES}
        together = operations.scan_sites(db_session, [(s, DAY) for s in SITES], dry_run=True)
        assert {r.site_code: seen(r.planned) for r in together} == alone
        rules = {rule for found in alone.values() for rule, *_ in found}
        assert {"psw_no_contact", "assessment_due", "psw_at_risk"} <= rules
        assert temporary_tables(db_session) == 0
        db_session.rollback()
        results = operations.scan_sites(db_session, [(s, DAY) for s in SITES])
        db_session.commit()
        assert sum(r.created for r in results) == sum(len(found) for found in alone.values())
        assert temporary_tables(db_session) == 0
        again = operations.scan_sites(db_session, [(s, DAY) for s in SITES])
        db_session.commit()
    assert [r.created for r in again] == [0, 0]
    assert db_session.scalar(select(func.count()).select_from(ScanRun)) == 2


def test_a_scan_of_many_sites_that_fails_leaves_no_table_and_nothing_saved(
    app, db_session, enrolled, monkeypatch
):
    monkeypatch.setattr(scanning, "deliver_by_site", lambda *a, **k: 1 / 0)
    with all_sites(), pytest.raises(ZeroDivisionError):
        operations.scan_sites(db_session, [(s, DAY) for s in SITES])
    db_session.rollback()
    assert temporary_tables(db_session) == 0
    assert db_session.scalar(select(func.count()).select_from(Reminder)) == 0


def test_a_scan_finding_only_stored_reminders_builds_none_of_their_texts(
    app, db_session, enrolled, monkeypatch
):
    from trialdm.reminders import rules_assessments, rules_contacts, texts

    with all_sites():
        first = operations.scan_sites(db_session, [(s, DAY) for s in SITES])
        db_session.commit()
        built: list[str] = []
        real_text = texts.text

        def counted(msgid, /, *args, **values):
            built.append(msgid)
            return real_text(msgid, *args, **values)

        monkeypatch.setattr(texts, "text", counted)
        for rules in (rules_assessments, rules_contacts):
            monkeypatch.setattr(rules, "text", counted, raising=False)
        again = operations.scan_sites(db_session, [(s, DAY) for s in SITES])
        db_session.commit()
    assert sum(r.created for r in first) > 0 and sum(r.created for r in again) == 0
    # the titles name the participant first: none was put together again
    assert not [msgid for msgid in built if msgid.startswith("%(study_id)s")]


def test_a_scan_storing_in_batches_stores_and_delivers_what_one_batch_does(
    app, db_session, enrolled, make_user, monkeypatch
):
    from trialdm.reminders.models import InboxEntry, OutboxMessage

    for site in SITES:
        make_user("site_lead", [site]).mail_preference = "immediate"
        make_user("research_worker", [site]).mail_preference = "daily"
    db_session.commit()

    def stored() -> list[tuple]:
        return [
            db_session.execute(
                select(Reminder.dedupe_key, Reminder.status).order_by("dedupe_key")
            ).all(),
            db_session.execute(
                select(Reminder.dedupe_key, InboxEntry.user_id, InboxEntry.mail)
                .join(Reminder, Reminder.id == InboxEntry.reminder_id)
                .order_by(Reminder.dedupe_key, InboxEntry.user_id)
            ).all(),
            db_session.execute(
                select(OutboxMessage.user_id, OutboxMessage.subject, OutboxMessage.body).order_by(
                    OutboxMessage.subject, OutboxMessage.user_id
                )
            ).all(),
        ]

    seen = {}
    with all_sites():
        for batch in (10_000, 1):
            monkeypatch.setattr(scanning, "STORE_BATCH", batch)
            results = operations.scan_sites(db_session, [(s, DAY) for s in SITES])
            assert all(r.created == r.delivered == len(r.planned) > 0 for r in results)
            seen[batch] = stored()
            db_session.rollback()
    assert seen[1] == seen[10_000]
    reminders, inbox, mails = seen[1]
    assert {status for _, status in reminders} == {"delivered"}
    assert len(inbox) == 2 * len(reminders) and len(mails) == len(reminders)
