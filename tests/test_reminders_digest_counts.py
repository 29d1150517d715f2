"""The weekly digests count in SQL: on the digest day a real scan's rules leave out
the rows whose reminders are stored in the digest's week (the digest counts those
from the table, with what the scan finds, in one grouped statement), and what each
digest says equals the reminders of the week and those found again."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
from sqlalchemy import event, select

from tests.seeders.instruments import sync_shipped
from tests.test_reminders_new_only import FILTERED, MONDAY, dry, filtered_keys, stored
from trialdm.core.scoping import all_sites
from trialdm.extensions import db
from trialdm.reminders import operations
from trialdm.reminders.models import Reminder
from trialdm.reminders.rules import DIGEST_RULES

SITES = ["BU", "ULM"]
BEFORE_THE_WEEK = date(2026, 11, 17)
IN_THE_WEEK = date(2026, 12, 1)


@pytest.fixture
def trial(db_session, make_participant, make_user):
    """Participants with no contact since their intervention began (their silence is
    reminded once, found again every day) and assessments overdue or coming due."""
    sync_shipped(db_session)
    for site in SITES:
        make_user("research_worker", [site])
        make_user("site_lead", [site])
    make_user("coordinator", [])
    for site in SITES:
        for start in (date(2026, 7, 1), date(2026, 8, 10), date(2026, 9, 1)):
            make_participant(site, "service_user", enrolment_date=start, intervention_start=start)
        for enrolled in (date(2026, 7, 20), date(2026, 8, 8)):  # T1 due 11-20, 12-08
            make_participant(site, "service_user", enrolment_date=enrolled, arm="control")
    db_session.commit()


def _week_keys(session) -> dict[str, tuple[str, str]]:
    """dedupe key -> (site, rule) of the site reminders (not digests) stored in the
    digest's week."""
    with all_sites():
        rows = session.execute(
            select(Reminder.dedupe_key, Reminder.site_code, Reminder.rule).where(
                Reminder.local_date > MONDAY - timedelta(days=7),
                Reminder.local_date <= MONDAY,
                Reminder.site_code.is_not(None),
                Reminder.rule.not_in(DIGEST_RULES),
            )
        )
        return {row.dedupe_key: (row.site_code, row.rule) for row in rows}


def _said(message: dict) -> Counter:
    """(site, rule) -> count, as a digest's lines say them (from their links)."""
    counts: Counter = Counter()
    for line in message["body"]["lines"]:
        values = line["values"]
        if "link" not in values:
            continue  # "nothing was due"
        link = dict(part.split("=", 1) for part in values["link"].split("?", 1)[1].split("&"))
        counts[(link["site"], link["rule"])] = values["count"]
    return counts


def test_the_digest_counts_the_week_and_what_is_found_again(db_session, trial):
    for day in (BEFORE_THE_WEEK, IN_THE_WEEK):
        operations.scan_sites(db_session, [(site, day) for site in SITES])
        db_session.commit()
    week = _week_keys(db_session)
    expected = dry(db_session, SITES, MONDAY)
    found = {k: v for k, v in expected.items() if not v["rule"].startswith("weekly_")}
    again = {k for k in found if k not in week and k in stored(db_session)}
    assert again and set(found) & set(week)  # found again: before the week and in it

    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        results = operations.scan_sites(db_session, [(site, MONDAY) for site in SITES])
        trial_wide = operations.scan_site(db_session, None, MONDAY)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    db_session.commit()

    # the rules left out rows whose reminders the digest counts from the table (stored
    # in the week; a row comes back whole when another of its keys is wanted), and gave
    # back what is new and what was stored before the week and is found again
    filtered = filtered_keys(results)
    assert {k for k in found if k in week and found[k]["rule"] in FILTERED} - filtered
    assert {k for k in found if k not in week and found[k]["rule"] in FILTERED} <= filtered
    # the digests counted in SQL: grouped, the week's rows left in the database
    counting = [s for s in statements if "digest_week" in s]
    assert len(counting) == 2  # once for the sites of the day, once trial-wide
    assert all("count(" in s.lower() and "group by" in s.lower() for s in counting)

    # what each digest says is the union of the week's reminders and those found
    union = dict(week)
    with all_sites():
        rows = db_session.execute(select(Reminder.dedupe_key, Reminder.site_code))
        sites_of = {key: site for key, site in rows}
    union.update({k: (sites_of[k], v["rule"]) for k, v in found.items()})
    want = Counter(union.values())
    digests = {k: v for k, v in stored(db_session).items() if v["rule"].startswith("weekly_")}
    site_digests = [v for v in digests.values() if v["rule"] == "weekly_site_digest"]
    assert len(site_digests) == 2
    said = sum((_said(v["message"]) for v in site_digests), Counter())
    assert said == want
    for digest in site_digests:
        total = digest["message"]["title"]["values"]["count"]
        assert total == sum(n for (site, _), n in want.items() if site == digest["subject_id"])
    # the same as a dry scan says
    assert site_digests == [v for v in expected.values() if v["rule"] == "weekly_site_digest"]

    # the trial-wide digest (after the sites' scan): the week's reminders of every site
    (trial_digest,) = [v for v in digests.values() if v["rule"] == "weekly_trial_digest"]
    assert trial_wide.created == 1
    assert _said(trial_digest["message"]) == Counter(_week_keys(db_session).values())


def test_the_digest_day_statements_stay_flat_in_sites(db_session, trial):
    counts = []
    for sites in (["BU"], SITES):
        operations.scan_sites(db_session, [(site, IN_THE_WEEK) for site in sites])
        statements: list[str] = []

        def seen(conn, cursor, statement, *args, into=statements):
            into.append(statement)

        event.listen(db.engine, "before_cursor_execute", seen)
        try:
            operations.scan_sites(db_session, [(site, MONDAY) for site in sites])
        finally:
            event.remove(db.engine, "before_cursor_execute", seen)
        db_session.rollback()
        counts.append(len(statements))
    assert counts[0] == counts[1]
