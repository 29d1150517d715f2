"""Fidelity counts up to each site's own today: a contact a research worker in Pune
records after midnight there is dated by Pune's calendar, a day ahead of the server's
(UTC), and counts on the participant's record, in the list's fidelity filter and on
the dashboard at once, while a site still on the server's date is read on its own."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from dateutil.relativedelta import relativedelta
from sqlalchemy import select

from tests.web_helpers import page_as, shown_widgets
from trialdm.contacts.queries import FidelityRule, fidelity_for, sites_fidelity_summaries
from trialdm.contacts.status_filter import with_fidelity_status
from trialdm.core.scoping import all_sites
from trialdm.extensions import db
from trialdm.participants.models import Participant
from trialdm.sites.queries import SiteDays

# 20:00 UTC on 10 March: 01:30 on 11 March in Pune (Asia/Kolkata), 23:00 in Kampala.
EVENING_UTC = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)
SERVER_DAY, PUNE_DAY = date(2026, 3, 10), date(2026, 3, 11)


@pytest.fixture
def evening(time_machine):
    time_machine.move_to(EVENING_UTC, tick=False)
    assert date.today() == SERVER_DAY


def at_risk_from_pune_day(app) -> date:
    """An enrolment date whose window, without contacts, turns at risk on PUNE_DAY:
    behind the pace (minimum x elapsed >= (1 + slack) x length) then, not the day
    before."""
    with app.app_context():
        rule = FidelityRule.from_settings()

    def behind(start: date, on: date) -> bool:
        length = (start + relativedelta(months=rule.months) - start).days + 1
        return rule.minimum * ((on - start).days + 1) >= (1 + rule.slack) * length

    start = next(
        SERVER_DAY - timedelta(days=n)
        for n in range(1, 366)
        if behind(SERVER_DAY - timedelta(days=n), PUNE_DAY)
        and not behind(SERVER_DAY - timedelta(days=n), SERVER_DAY)
    )
    return start


def test_a_contact_dated_today_at_the_site_counts_on_the_record(
    app, api_as, make_participant, evening
):
    psw = make_participant("PU", "psw", training_completed=date(2025, 1, 10))
    person = make_participant("PU", enrolment_date=date(2026, 1, 5))
    worker = api_as("research_worker", ["PU"])
    created = worker.post(
        "/api/v1/contact-sessions",
        json={
            "site": "PU",
            "psws": [psw.id],
            "date": PUNE_DAY.isoformat(),
            "format": "individual",
            "mode": "in_person",
            "duration_min": 45,
            "attendees": [person.id],
        },
    )
    assert created.status_code == 201, created.json
    fidelity = worker.get(f"/api/v1/participants/{person.id}").json["fidelity"]
    assert fidelity["contacts_in_window"] == 1
    # 5 January + 6 months = 5 July; days from 11 March to it, both included
    assert fidelity["days_left"] == (date(2026, 7, 5) - PUNE_DAY).days + 1
    summary = worker.get("/api/v1/sites/PU/fidelity").json
    assert summary["as_of"] == PUNE_DAY.isoformat()
    # a date asked for is the date used
    asked = worker.get("/api/v1/sites/PU/fidelity?as_of=2026-03-10").json
    assert asked["as_of"] == SERVER_DAY.isoformat()


def test_each_site_is_read_on_its_own_date(app, api_as, make_participant, evening):
    start = at_risk_from_pune_day(app)
    pune = make_participant("PU", enrolment_date=start)
    kampala = make_participant("BU", enrolment_date=start)
    coordinator = api_as("coordinator")

    def status(person) -> str:
        return coordinator.get(f"/api/v1/participants/{person.id}").json["fidelity"]["status"]

    assert (status(pune), status(kampala)) == ("at_risk", "on_track")
    with app.app_context(), all_sites():
        found = fidelity_for(db.session, [pune.id, kampala.id])
        assert {found[pune.id]["status"], found[kampala.id]["status"]} == {"at_risk", "on_track"}
        summaries = {s["site"]: s for s in sites_fidelity_summaries(db.session)}
    assert summaries["PU"]["as_of"] == PUNE_DAY and summaries["PU"]["counts"]["at_risk"] == 1
    assert summaries["BU"]["as_of"] == SERVER_DAY and summaries["BU"]["counts"]["on_track"] == 1

    # the list filter, across both sites: each participant on their site's date
    for wanted, expected in (("at_risk", pune), ("on_track", kampala)):
        listed = coordinator.get(f"/api/v1/participants?fidelity={wanted}").json["items"]
        assert [p["id"] for p in listed] == [expected.id]


def test_the_dashboard_shows_each_site_on_its_own_date(
    app, api_as, make_participant, make_user, evening
):
    start = at_risk_from_pune_day(app)
    make_participant("PU", enrolment_date=start)
    make_participant("BU", enrolment_date=start)
    page = page_as(app, make_user, "coordinator")

    def shown() -> dict[str, dict]:
        return {row["site"]: row for row in shown_widgets(app, page)["fidelity"]["rows"]}

    rows = shown()
    assert rows["PU"]["as_of"] == PUNE_DAY and rows["PU"]["counts"]["at_risk"] == 1
    assert rows["BU"]["as_of"] == SERVER_DAY and rows["BU"]["counts"]["on_track"] == 1
    # after midnight in Kampala too, both sites are on 11 March
    moved = datetime(2026, 3, 10, 21, 30, tzinfo=UTC)
    with time_machine.travel(moved, tick=False):
        rows = shown()
    assert rows["BU"]["as_of"] == PUNE_DAY and rows["BU"]["counts"]["at_risk"] == 1


def test_a_site_missing_from_the_zones_read_belongs_to_the_last_date():
    """A site added since the zones were read (at most a minute ago) is read on the
    latest date, never left out."""
    days = SiteDays(((SERVER_DAY, frozenset({"UKE"})), (PUNE_DAY, frozenset({"PU"}))))
    assert days.day_of("UKE") == SERVER_DAY and days.day_of("PU") == PUNE_DAY
    assert days.day_of("NEW") == PUNE_DAY
    assert days.days(["UKE"]) == [SERVER_DAY] and days.days(["PU", "NEW"]) == [PUNE_DAY]
    assert days.days() == [SERVER_DAY, PUNE_DAY]


def test_the_fidelity_filter_keeps_a_site_missing_from_the_zones_read(
    app, make_participant, evening
):
    start = at_risk_from_pune_day(app)
    pune = make_participant("PU", enrolment_date=start)
    kampala = make_participant("BU", enrolment_date=start)
    # Kampala not in the zones read: on the last date (Pune's), so at risk too
    days = SiteDays(((SERVER_DAY, frozenset({"UKE"})), (PUNE_DAY, frozenset({"PU"}))))
    with app.app_context(), all_sites():
        stmt = with_fidelity_status(select(Participant), "at_risk", days=days)
        found = set(db.session.scalars(stmt.with_only_columns(Participant.id)))
    assert found == {pune.id, kampala.id}


def test_a_schedule_is_read_on_the_sites_date(app, api_as, make_participant, evening):
    person = make_participant("PU", enrolment_date=date(2026, 1, 5))
    worker = api_as("research_worker", ["PU"])
    assert worker.get(f"/api/v1/participants/{person.id}/schedule").json["as_of"] == "2026-03-11"
    assert worker.get("/api/v1/schedule").json["as_of"] == "2026-03-11"
    coordinator = api_as("coordinator")
    assert coordinator.get("/api/v1/schedule?site=PU").json["as_of"] == "2026-03-11"
    # sites on two dates: the server's, unless asked
    assert coordinator.get("/api/v1/schedule").json["as_of"] == "2026-03-10"
    assert coordinator.get("/api/v1/schedule?as_of=2026-03-01").json["as_of"] == "2026-03-01"
