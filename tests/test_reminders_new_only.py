"""A real scan leaves out in SQL the rows of the contact and assessment rules whose
reminders are all stored: it creates exactly what the rules find and is not stored,
with the same content, and a day finding only what is stored gets none of those rows
back. On digest days only what the digests count from the table (stored in their
week) is left out (``test_reminders_digest_counts``)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.seeders.instruments import sync_shipped
from trialdm.contacts.operations import create_contact_session
from trialdm.core.scoping import all_sites
from trialdm.reminders import operations
from trialdm.reminders.models import Reminder
from trialdm.reminders.rules_assessments import ASSESSMENT_RULES
from trialdm.reminders.rules_contacts import CONTACT_RULES

START = date(2026, 6, 1)  # intervention window 2026-06-01 .. 2026-12-01
FILTERED = set(CONTACT_RULES) | set(ASSESSMENT_RULES)
# none a Monday (the digest day) but the last
DAYS = [date(2026, 10, 1), date(2026, 10, 2), date(2026, 11, 14), date(2026, 11, 17)]
DAYS += [date(2026, 11, 21), date(2026, 12, 1)]
MONDAY = date(2026, 12, 7)
FIELDS = ("rule", "subject_type", "subject_id", "period", "title", "body", "message", "link")


@pytest.fixture
def trial(db_session, make_participant, make_user):
    sync_shipped(db_session)
    for site in ("BU", "ULM"):
        make_user("research_worker", [site])
        make_user("site_lead", [site])
    psw = make_participant("BU", "psw", training_completed=date(2024, 1, 2))
    people = {
        site: [
            make_participant(site, "service_user", enrolment_date=START, intervention_start=START)
            for _ in range(3)
        ]
        + [make_participant(site, "service_user", enrolment_date=date(2026, 7, 20), arm="control")]
        for site in ("BU", "ULM")
    }
    db_session.commit()
    with all_sites():
        contacts = ((date(2026, 6, 2), people["BU"][:2]), (date(2026, 9, 1), people["BU"][1:2]))
        for on, who in contacts:
            create_contact_session(
                db_session,
                {
                    "site": "BU",
                    "psws": [psw.id],
                    "date": on,
                    "format": "group" if len(who) > 1 else "individual",
                    "mode": "in_person",
                    "attendees": [p.id for p in who],
                },
            )
        db_session.commit()
    return people


def stored(session) -> dict[str, dict]:
    with all_sites():
        return {
            row.dedupe_key: {name: getattr(row, name) for name in (*FIELDS, "recipients")}
            for row in session.execute(select(Reminder.__table__))
        }


def dry(session, sites, day) -> dict[str, dict]:
    found = operations.scan_sites(session, [(site, day) for site in sites], dry_run=True)
    session.rollback()
    return {
        p.dedupe_key: {**{name: p.row()[name] for name in FIELDS}, "recipients": p.recipients}
        for result in found
        for p in result.planned
    }


def filtered_keys(results) -> set[str]:
    return {p.dedupe_key for r in results for p in r.planned if p.rule in FILTERED}


def test_a_real_scan_creates_what_a_dry_scan_finds_new_and_reads_back_no_stored_row(
    db_session, trial
):
    sites = ["BU", "ULM"]
    created_rules = set()
    for day in DAYS:
        expected = dry(db_session, sites, day)
        before = stored(db_session)
        results = operations.scan_sites(db_session, [(site, day) for site in sites])
        db_session.commit()
        after = stored(db_session)
        new = {key: after[key] for key in set(after) - set(before)}
        # the same reminders, with the same content, as the rules find unfiltered
        assert new == {key: found for key, found in expected.items() if key not in before}
        created_rules |= {found["rule"] for found in new.values()}
        # what the rules found and left in is among what they find; the new all are
        assert (
            set(new) & {k for k in expected if expected[k]["rule"] in FILTERED}
            <= (filtered_keys(results))
            <= set(expected)
        )
        # the same day again: every row of these rules is left out in SQL (their keys
        # said in SQL are the keys said in Python), though the dry scan finds them
        again = operations.scan_sites(db_session, [(site, day) for site in sites])
        db_session.commit()
        assert [r.created for r in again] == [0, 0]
        assert filtered_keys(again) == set()
        assert {found["rule"] for found in expected.values()} & FILTERED
    assert created_rules >= FILTERED  # every rule of the filter was exercised


def test_a_single_site_scan_leaves_out_what_is_stored(db_session, trial):
    day = DAYS[-1]
    first = operations.scan_site(db_session, "BU", day)
    db_session.commit()
    again = operations.scan_site(db_session, "BU", day)
    db_session.commit()
    assert first.created > 0 and again.created == 0
    assert filtered_keys([first]) and filtered_keys([again]) == set()


def test_on_the_digest_day_a_real_scan_stores_the_digests_a_dry_scan_gives(db_session, trial):
    sites = ["BU", "ULM"]
    operations.scan_sites(db_session, [(site, DAYS[-1]) for site in sites])
    db_session.commit()
    expected = dry(db_session, sites, MONDAY)
    results = operations.scan_sites(db_session, [(site, MONDAY) for site in sites])
    db_session.commit()
    assert filtered_keys(results) == {k for k in expected if expected[k]["rule"] in FILTERED}
    digests = {k: v for k, v in stored(db_session).items() if v["rule"] == "weekly_site_digest"}
    assert digests == {k: v for k, v in expected.items() if v["rule"] == "weekly_site_digest"}
    assert len(digests) == 2
