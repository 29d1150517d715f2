"""Intervention fidelity: the window, the statuses, and one query for any number."""

from datetime import date, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import Date, event, literal, select

from trialdm.contacts.operations import create_contact_session, delete_contact_session
from trialdm.contacts.queries import FidelityRule, fidelity_for
from trialdm.core.audit import audit_context
from trialdm.core.scoping import all_sites
from trialdm.core.sqldates import add_months, days_between
from trialdm.extensions import db

RULE = FidelityRule(minimum=3, months=6, slack=0.0)


@pytest.fixture
def psw(make_participant):
    return make_participant("BU", "psw", training_completed=date(2023, 1, 2))


@pytest.fixture
def contact(db_session, psw):
    """``contact(on, person, ...)``: one session (group when several people)."""

    def record(on: date, *people, site: str = "BU", by=None):
        with all_sites():
            session = create_contact_session(
                db_session,
                {
                    "site": site,
                    "psws": [(by or psw).id],
                    "date": on,
                    "format": "group" if len(people) > 1 else "individual",
                    "mode": "in_person",
                    "attendees": [p.id for p in people],
                },
            )
            db_session.commit()
        return session

    return record


def fidelity(participant, as_of, rule=RULE):
    with all_sites():
        return fidelity_for(db.session, [participant.id], as_of) if rule is RULE else None


@pytest.mark.parametrize(
    "start",
    [
        date(2025, 8, 31),
        date(2023, 8, 31),  # to a leap February
        date(2025, 1, 31),
        date(2025, 12, 31),
        date(2024, 2, 29),
        date(2025, 3, 15),
        date(2025, 6, 30),
    ],
)
@pytest.mark.parametrize("months", [1, 6, 12])
def test_add_months_matches_relativedelta(app, db_session, start, months):
    value = literal(start, Date)
    got = db_session.execute(select(add_months(value, months))).scalar_one()
    assert got == start + relativedelta(months=months)
    later = start + timedelta(days=200)
    assert db_session.execute(select(days_between(value, literal(later, Date)))).scalar_one() == 200


def test_window_of_month_end_enrolment_includes_its_last_day(make_participant, contact):
    on_time = make_participant("BU", enrolment_date=date(2025, 8, 31))
    late = make_participant("BU", enrolment_date=date(2025, 8, 31))
    contact(date(2025, 8, 31), on_time, late)
    contact(date(2025, 11, 1), on_time, late)
    contact(date(2026, 2, 28), on_time)  # the last day of the window
    contact(date(2026, 3, 1), late)  # the day after
    result = fidelity(on_time, date(2026, 3, 10))[on_time.id]
    assert result["window_start"] == date(2025, 8, 31)
    assert result["window_end"] == date(2026, 2, 28)
    assert (result["contacts_in_window"], result["status"]) == (3, "met")
    result = fidelity(late, date(2026, 3, 10))[late.id]
    assert result["contacts_total"] == 3 and result["contacts_in_window"] == 2
    assert result["status"] == "not_met" and result["days_left"] == 0
    on_last_day = fidelity(late, date(2026, 2, 28))[late.id]
    assert (on_last_day["status"], on_last_day["days_left"]) == ("at_risk", 1)


def test_statuses_over_time(make_participant, contact):
    person = make_participant("BU", enrolment_date=date(2025, 1, 1))
    # before the window opens (a date in the past: enrolment is never in the future)
    assert fidelity(person, date(2024, 12, 31))[person.id]["status"] == "not_started"
    contact(date(2025, 1, 1), person)
    # window (from enrolment) 2025-01-01..2025-07-01 (182 days, both ends included). With
    # one contact the participant is one whole contact behind a steady pace of 3 once
    # 3 x elapsed >= 2 x 182, i.e. from the 122nd day (2 May).
    day = fidelity(person, date(2025, 1, 1))[person.id]
    assert day["window_end"] == date(2025, 7, 1) and day["days_left"] == 182
    assert day["status"] == "on_track"
    assert fidelity(person, date(2025, 5, 1))[person.id]["status"] == "on_track"
    assert fidelity(person, date(2025, 5, 2))[person.id]["status"] == "at_risk"
    contact(date(2025, 5, 10), person)
    assert fidelity(person, date(2025, 5, 10))[person.id]["status"] == "on_track"
    assert fidelity(person, date(2025, 7, 2))[person.id]["status"] == "not_met"
    contact(date(2025, 6, 1), person)
    final = fidelity(person, date(2026, 1, 1))[person.id]
    assert (final["status"], final["contacts_in_window"], final["days_left"]) == ("met", 3, 0)
    # a date in the past sees only the contacts made by then
    assert fidelity(person, date(2025, 5, 31))[person.id]["contacts_total"] == 2


def test_explicit_start_opens_the_window_without_a_contact(make_participant, contact):
    person = make_participant(
        "BU", enrolment_date=date(2025, 1, 1), intervention_start=date(2025, 1, 10)
    )
    early = fidelity(person, date(2025, 1, 20))[person.id]
    assert (early["status"], early["window_start"], early["contacts_total"]) == (
        "on_track",
        date(2025, 1, 10),
        0,
    )
    # no contact after a third of the window
    assert fidelity(person, date(2025, 3, 15))[person.id]["status"] == "at_risk"
    assert fidelity(person, date(2025, 1, 9))[person.id]["status"] == "not_started"


def test_group_sessions_count_once_per_attendee(make_participant, contact):
    a, b, c = (make_participant("BU", enrolment_date=date(2025, 1, 1)) for _ in range(3))
    contact(date(2025, 1, 5), a, b, c)
    contact(date(2025, 2, 5), a, b)
    contact(date(2025, 3, 5), a)
    found = fidelity(a, date(2025, 3, 6))
    with all_sites():
        found = fidelity_for(db.session, [a.id, b.id, c.id], date(2025, 3, 6))
    assert [found[p.id]["contacts_total"] for p in (a, b, c)] == [3, 2, 1]
    assert found[a.id]["status"] == "met"


def test_withdrawal_mid_window(make_participant, contact, api_as):
    stayed_short = make_participant("BU", enrolment_date=date(2025, 1, 1))
    had_enough = make_participant("BU", enrolment_date=date(2025, 1, 1))
    contact(date(2025, 1, 5), stayed_short, had_enough)
    contact(date(2025, 2, 5), had_enough)
    contact(date(2025, 3, 5), had_enough)
    api = api_as("research_worker", ["BU"])
    for person in (stayed_short, had_enough):
        response = api.patch(
            f"/api/v1/participants/{person.id}",
            json={
                "status": "withdrawn",
                "withdrawal_date": "2025-04-01",
                "withdrawal_reason": "moved",
                "reason": "withdrew",
            },
            headers={"If-Match": '"1"'},
        )
        assert response.status_code == 200, response.json
    assert fidelity(stayed_short, date(2025, 3, 31))[stayed_short.id]["status"] == "on_track"
    assert fidelity(stayed_short, date(2025, 4, 1))[stayed_short.id]["status"] == "withdrawn"
    # withdrawal does not undo a minimum already reached
    assert fidelity(had_enough, date(2025, 4, 1))[had_enough.id]["status"] == "met"


def test_deleted_sessions_and_other_arms_do_not_count(make_participant, contact, db_session):
    person = make_participant("BU", enrolment_date=date(2025, 1, 1))
    control = make_participant("BU", enrolment_date=date(2025, 1, 1), arm="control")
    session = contact(date(2025, 1, 5), person)
    with all_sites(), audit_context(reason="entered twice"):
        delete_contact_session(db_session, session, session.version_id)
        db_session.commit()
    found = fidelity(person, date(2025, 2, 1))[person.id]
    assert (found["contacts_total"], found["first_contact"], found["status"]) == (
        0,
        None,
        "on_track",
    )
    assert fidelity(control, date(2025, 2, 1)) == {}


def test_last_contact_is_the_latest_live_one_up_to_the_day(make_participant, contact, db_session):
    person = make_participant("BU", enrolment_date=date(2025, 1, 1))
    contact(date(2025, 1, 10), person)
    deleted = contact(date(2025, 2, 10), person)
    contact(date(2025, 3, 1), person)
    with all_sites(), audit_context(reason="entered twice"):
        delete_contact_session(db_session, deleted, deleted.version_id)
        db_session.commit()
    assert fidelity(person, date(2025, 1, 9))[person.id]["last_contact"] is None
    # the deleted session does not count, nor one after the day
    assert fidelity(person, date(2025, 2, 28))[person.id]["last_contact"] == date(2025, 1, 10)
    assert fidelity(person, date(2025, 3, 1))[person.id]["last_contact"] == date(2025, 3, 1)


def test_rule_comes_from_settings(app, make_participant, contact):
    person = make_participant("BU", enrolment_date=date(2025, 1, 1))
    contact(date(2025, 1, 5), person)
    contact(date(2025, 1, 6), person)
    assert fidelity(person, date(2025, 1, 7))[person.id]["status"] == "on_track"
    old = app.config["FIDELITY_MIN_CONTACTS"], app.config["INTERVENTION_WINDOW_MONTHS"]
    app.config.update(FIDELITY_MIN_CONTACTS=2, INTERVENTION_WINDOW_MONTHS=3)
    try:
        with all_sites():
            result = fidelity_for(db.session, [person.id], date(2025, 1, 7))[person.id]
    finally:
        app.config["FIDELITY_MIN_CONTACTS"], app.config["INTERVENTION_WINDOW_MONTHS"] = old
    assert (result["status"], result["minimum"], result["window_end"]) == (
        "met",
        2,
        date(2025, 4, 1),
    )


def test_fidelity_on_participants_api_and_filter(make_participant, contact, api_as):
    today = date.today()
    fresh = make_participant("BU", enrolment_date=today - timedelta(days=10))
    behind = make_participant("BU", enrolment_date=today - timedelta(days=150))
    control = make_participant("BU", enrolment_date=today - timedelta(days=10), arm="control")
    contact(today - timedelta(days=140), behind)
    api = api_as("research_worker", ["BU"])
    one = api.get(f"/api/v1/participants/{behind.id}").json
    assert one["fidelity"]["status"] == "at_risk"
    assert one["fidelity"]["contacts_total"] == 1 and one["fidelity"]["minimum"] == 3
    assert one["fidelity"]["window_start"] == (today - timedelta(days=150)).isoformat()
    assert one["fidelity"]["first_contact"] == (today - timedelta(days=140)).isoformat()
    assert api.get(f"/api/v1/participants/{fresh.id}").json["fidelity"]["status"] == "on_track"
    assert api.get(f"/api/v1/participants/{control.id}").json["fidelity"] is None
    at_risk = api.get("/api/v1/participants?fidelity=at_risk").json
    assert [p["id"] for p in at_risk["items"]] == [behind.id]
    # evaluated up to the page's end, not counted
    assert at_risk["meta"]["total"] is None and at_risk["meta"]["next_after"] is None
    assert api.get("/api/v1/participants?fidelity=late").status_code == 422


def test_site_fidelity_summary(make_participant, contact, api_as):
    people = [make_participant("BU", enrolment_date=date(2025, 1, 1)) for _ in range(3)]
    make_participant("ULM", enrolment_date=date(2025, 1, 1))
    for day in (5, 6, 7):
        contact(date(2025, 1, day), people[0])
    contact(date(2025, 1, 5), people[1])
    api = api_as("site_lead", ["BU"])
    summary = api.get("/api/v1/sites/bu/fidelity?as_of=2025-01-08")
    assert summary.status_code == 200, summary.json
    body = summary.json
    assert body["participants"] == 3 and body["minimum_contacts"] == 3
    assert body["counts"] == {
        "not_started": 0,
        "on_track": 2,
        "at_risk": 0,
        "met": 1,
        "not_met": 0,
        "withdrawn": 0,
    }
    assert body["met_share"] == 0.3333
    assert api.get("/api/v1/sites/ULM/fidelity").status_code == 403
    assert api.get("/api/v1/sites/XX/fidelity").status_code == 404
    everyone = api_as("coordinator").get("/api/v1/sites/ULM/fidelity").json
    # enrolled long ago and never contacted: the window closed short of the minimum
    assert everyone["counts"]["not_met"] == 1


def test_listing_with_fidelity_issues_a_constant_number_of_queries(
    app, make_participant, contact, api_as, db_session
):
    from trialdm.participants.operations import create_participant

    api = api_as("research_worker", ["BU"])

    def add_people(count):
        with all_sites():
            people = [
                create_participant(
                    db_session,
                    {
                        "site": "BU",
                        "category": "service_user",
                        "gender": "female",
                        "year_of_birth": 1980,
                        "enrolment_date": date(2025, 1, 1),
                        "consent_date": date(2025, 1, 1),
                        "consent_version": "1",
                        "arm": "intervention",
                    },
                )
                for _ in range(count)
            ]
            db_session.commit()
        for start in range(0, len(people) - 1, 2):
            contact(date(2025, 2, 1), *people[start : start + 2])

    def statements_for_listing():
        counter = {"n": 0}

        def count(*args, **kwargs):
            counter["n"] += 1

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            response = api.get("/api/v1/participants?category=service_user&per_page=500")
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert response.status_code == 200
        assert all(p["fidelity"]["contacts_total"] == 1 for p in response.json["items"])
        return counter["n"], len(response.json["items"])

    add_people(4)
    statements_for_listing()  # first use of the token records its last use
    few, listed_few = statements_for_listing()
    add_people(60)
    many, listed_many = statements_for_listing()
    assert (listed_few, listed_many) == (4, 64)
    assert many == few


def test_fidelity_selectable_is_site_scoped(make_participant, contact):
    from trialdm.contacts.queries import fidelity_subquery
    from trialdm.core.scoping import SiteScope, scoped_to

    here = make_participant("BU", enrolment_date=date(2025, 1, 1))
    there = make_participant("ULM", enrolment_date=date(2025, 1, 1))
    contact(date(2025, 1, 5), here)
    with scoped_to(SiteScope(codes=frozenset({"ULM"}))):
        fid = fidelity_subquery(date(2025, 2, 1))
        rows = db.session.execute(select(fid.c.participant_id, fid.c.contacts_total)).all()
    assert rows == [(there.id, 0)]


def _plan(session, stmt) -> str:
    """The database's plan of ``stmt``: SQLite's EXPLAIN QUERY PLAN, or PostgreSQL's
    EXPLAIN with sequential scans priced out, so that a scan in the plan means no index
    could serve (the tables here are small enough that either would pick a scan)."""
    compiled = stmt.compile(session.bind, compile_kwargs={"literal_binds": True})
    if session.bind.dialect.name == "sqlite":
        rows = session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
        return "\n".join(str(row[-1]) for row in rows)
    session.connection().exec_driver_sql("SET LOCAL enable_seqscan = off")
    rows = session.connection().exec_driver_sql(f"EXPLAIN {compiled}").all()
    return "\n".join(row[0] for row in rows)


# The tables fidelity reads: none of them may be read whole when a participant or a
# site is asked for.
FIDELITY_TABLES = ("participants", "randomisations", "contact_attendances", "contact_sessions")


@pytest.mark.parametrize("by", ["participant", "site"])
def test_fidelity_of_some_reads_only_their_rows(make_participant, contact, db_session, by):
    """The participants' filter is applied where they are read, and their contacts and
    allocation are found by index: reading one person (a participant page, a create) or
    one site (the dashboard, the reminder scan) must not read the whole trial."""
    from trialdm.contacts.queries import fidelity_subquery

    people = [make_participant("BU", enrolment_date=date(2025, 1, 1)) for _ in range(3)]
    make_participant("ULM", enrolment_date=date(2025, 1, 1))
    contact(date(2025, 1, 5), *people)
    with all_sites():
        fid = (
            fidelity_subquery(date(2025, 2, 1), participant_ids=[people[0].id])
            if by == "participant"
            else fidelity_subquery(date(2025, 2, 1), site_code="BU")
        )
        plan = _plan(db_session, select(fid))
        found = db_session.execute(select(fid.c.participant_id)).scalars().all()
    assert (
        found == [people[0].id]
        if by == "participant"
        else sorted(found) == sorted(p.id for p in people)
    )
    if db_session.bind.dialect.name == "sqlite":
        # SQLite: SEARCH is an index lookup, SCAN a full read of the table
        wanted = "INTEGER PRIMARY KEY" if by == "participant" else "site_code=?"
        reads = [line for line in plan.splitlines() if "participants" in line]
        assert any(wanted in line for line in reads), plan
        scans = [line.split()[1] for line in plan.splitlines() if line.startswith("SCAN ")]
        assert not set(scans) & set(FIDELITY_TABLES), plan
        for table in FIDELITY_TABLES[1:]:
            assert any(line.startswith(f"SEARCH {table} USING") for line in plan.splitlines())
    else:
        # PostgreSQL, sequential scans priced out: one left means no index could serve
        assert "Seq Scan" not in plan, plan
        wanted = f"(id = {people[0].id})" if by == "participant" else "site_code"
        node = plan.split(" on participants", 1)[1].split("->", 1)[0]
        assert wanted in node, plan
