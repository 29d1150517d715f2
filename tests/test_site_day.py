"""'Today' is the day at the record's site: a date entered after midnight in Pune is
not in the future while it is still yesterday in UTC (and in Kampala)."""

from datetime import UTC, date, datetime, timedelta

import pytest

from tests.seeders.instruments import sync_shipped

# 20:00 UTC on 10 March: 01:30 on 11 March in Pune (Asia/Kolkata), 23:00 in Kampala.
EVENING_UTC = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)
PUNE_DAY = "2026-03-11"


@pytest.fixture
def evening(time_machine):
    time_machine.move_to(EVENING_UTC, tick=False)
    assert date.today() == date(2026, 3, 10)  # the server's day


def contact(psw, user, site):
    return {
        "site": site,
        "psws": [psw.id],
        "date": PUNE_DAY,
        "format": "individual",
        "mode": "in_person",
        "duration_min": 45,
        "attendees": [user.id],
    }


def test_a_contact_session_is_checked_against_the_sites_day(api_as, make_participant, evening):
    enrolled = date(2026, 1, 5)
    for site, accepted in (("PU", True), ("BU", False)):
        psw = make_participant(site, "psw", training_completed=date(2025, 1, 10))
        user = make_participant(site, enrolment_date=enrolled)
        created = api_as("research_worker", [site]).post(
            "/api/v1/contact-sessions", json=contact(psw, user, site)
        )
        if accepted:
            assert created.status_code == 201, created.json
        else:
            assert created.status_code == 422, created.json
            assert created.json["errors"]["date"] == ["The date is in the future."]


def test_a_participant_record_is_checked_against_the_sites_day(api_as, evening):
    body = {"category": "psw", "gender": "female", "age": 30, "training_completed": PUNE_DAY}
    pune = api_as("research_worker", ["PU"]).post(
        "/api/v1/participants", json={**body, "site": "PU"}
    )
    assert pune.status_code == 201, pune.json
    kampala = api_as("research_worker", ["BU"]).post(
        "/api/v1/participants", json={**body, "site": "BU"}
    )
    assert kampala.status_code == 422
    assert kampala.json["errors"]["training_completed"] == ["The date is in the future."]


def test_a_questionnaire_defaults_to_and_accepts_the_sites_day(
    api_as, make_participant, db_session, evening
):
    sync_shipped(db_session)
    db_session.commit()
    person = make_participant("PU", enrolment_date=date(2026, 3, 1))
    api = api_as("research_worker", ["PU"])
    created = api.post(
        "/api/v1/responses",
        json={
            "participant_id": person.id,
            "instrument": "baseline_demographics",
            "event": "T0",
            "answers": {},
        },
    )
    assert created.status_code == 201, created.json
    assert created.json["collected_on"] == PUNE_DAY


def test_a_sites_check_run_closes_the_windows_of_the_sites_day(
    app, api_as, make_participant, db_session, evening
):
    """The baseline's window closes a day earlier in Pune than by the server's date:
    a run at the site asks for the missing answer on the site's day."""
    from sqlalchemy import select

    from tests.seeders.instruments import sync_shipped as sync
    from trialdm.quality.models import DataQuery

    sync(db_session)
    db_session.commit()
    window = app.config["SCHEDULE_WINDOW_DAYS"]
    enrolled = date.fromisoformat(PUNE_DAY) - timedelta(days=window + 1)
    person = make_participant("PU", enrolment_date=enrolled)
    response = api_as("site_lead", ["PU"]).post("/api/v1/quality/runs", json={"site": "PU"})
    assert response.status_code == 200, response.json
    asked = db_session.scalars(
        select(DataQuery.rule_name).where(DataQuery.participant_id == person.id)
    ).all()
    assert "baseline_employment_missing" in asked
