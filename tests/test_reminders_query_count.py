"""The scan's statements do not grow with the data: the rules read each site with a
fixed number of statements, and the reminders, inbox entries and e-mails go in with
one statement each however many there are."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date

from sqlalchemy import event

from trialdm.extensions import db
from trialdm.reminders import operations

DAY = date(2026, 11, 24)


@contextmanager
def statements() -> Iterator[Callable[[], int]]:
    seen: list[str] = []

    def before(conn, cursor, statement, *args) -> None:
        # the test harness's savepoints are not the scan's
        if not statement.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield lambda: len(seen)
    finally:
        event.remove(db.engine, "before_cursor_execute", before)


def test_scan_statements_do_not_grow_with_participants(
    app, db_session, make_user, make_participant
):
    for site in ("BU", "ULM"):
        for role in ("research_worker", "site_lead"):
            make_user(role, [site]).mail_preference = "immediate"
    # 2 service users at ULM, 12 at BU: intervention arm without contacts (PSW rules),
    # enrolled so that an assessment is due (schedule rules)
    for site, n in (("ULM", 2), ("BU", 12)):
        for _ in range(n):
            make_participant(site, "service_user", enrolment_date=date(2026, 7, 24))
    db_session.commit()
    operations.scan_site(db_session, "UKE", DAY, dry_run=True)  # loads what is cached

    counts = {}
    for site in ("ULM", "BU"):
        with statements() as dry:
            planned = operations.plan_reminders(db_session, site, DAY)
        with statements() as real:
            result = operations.scan_site(db_session, site, DAY)
        db_session.commit()
        with statements() as again:
            repeat = operations.scan_site(db_session, site, DAY)
        db_session.commit()
        assert result.created == len(planned) > 0 and repeat.created == 0
        counts[site] = (len(planned), dry(), real(), again())
    small, large = counts["ULM"], counts["BU"]
    assert large[0] > small[0] * 4  # six times the participants, many more reminders
    assert large[1:] == small[1:], counts


def test_a_scan_of_many_sites_reads_each_shared_statement_once(
    app, db_session, make_user, make_participant
):
    """The fidelity and the schedule are computed once for all the sites of a day (a
    temporary table each): each further site adds the same few statements, whatever
    its size."""
    three_sites(db_session, make_user, make_participant, ("site_lead",))

    counts = {}
    for sites in (["ULM"], ["ULM", "UKE"], ["ULM", "UKE", "BU"]):
        with statements() as real:
            results = operations.scan_sites(db_session, [(site, DAY) for site in sites])
        db_session.rollback()
        assert all(result.created > 0 for result in results)
        counts[len(sites)] = real()
    # the third site, six times larger, costs what the second cost
    assert counts[3] - counts[2] == counts[2] - counts[1], counts


def test_a_scan_of_many_sites_costs_what_a_scan_of_one_site_costs(
    app, db_session, make_user, make_participant
):
    """Each rule's statement runs once for all the sites of a scan, and what they find
    goes in and out with one statement per table: a scan of three sites, one of them
    six times larger, issues as many statements as a scan of one small site, dry, on
    the first day and on a day finding only what is stored."""
    three_sites(db_session, make_user, make_participant, ("research_worker", "site_lead"))

    counts = {}
    for sites in (["ULM"], ["ULM", "UKE", "BU"]):
        days = [(site, DAY) for site in sites]
        with statements() as dry:
            found = operations.scan_sites(db_session, days, dry_run=True)
        db_session.rollback()
        with statements() as first:
            results = operations.scan_sites(db_session, days)
        with statements() as again:
            repeat = operations.scan_sites(db_session, days)
        db_session.rollback()
        assert [r.created for r in results] == [len(r.planned) for r in found]
        assert all(r.created > 0 and r.delivered == r.created for r in results)
        assert [r.created for r in repeat] == [0] * len(sites)
        counts[len(sites)] = (sum(len(r.planned) for r in found), dry(), first(), again())
    one, three = counts[1], counts[3]
    assert three[0] > one[0] * 4  # eight times the participants, many more reminders
    assert three[1:] == one[1:], counts


def three_sites(db_session, make_user, make_participant, roles: tuple[str, ...]) -> None:
    """Staff taking e-mail at once at BU, ULM and UKE; two service users at ULM and UKE,
    twelve at BU; a first dry scan so that what is cached is loaded."""
    for site in ("BU", "ULM", "UKE"):
        for role in roles:
            make_user(role, [site]).mail_preference = "immediate"
    for site, n in (("ULM", 2), ("UKE", 2), ("BU", 12)):
        for _ in range(n):
            make_participant(site, "service_user", enrolment_date=date(2026, 7, 24))
    db_session.commit()
    operations.scan_sites(db_session, [("BU", DAY)], dry_run=True)
    db_session.rollback()
