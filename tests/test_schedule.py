"""The assessment schedule: due dates at month ends, window edges, statuses, withdrawal."""

from datetime import date

import pytest

from tests.seeders.instruments import sync_shipped
from trialdm.config import ConfigError, load_settings
from trialdm.instruments.operations import create_response
from trialdm.schedule.queries import schedule_rows

SCALE = {f"si_{i:02d}": 1 for i in range(1, 11)}
# Gender and year of birth are the participant record's (record_field): not answered here.
# the record's diagnoses; BASELINE leaves out the diagnoses items, derived from them
DIAGNOSES = [{"code": "F32"}]
BASELINE = {
    "marital_status": "single",
    "living_situation": "family",
    "employment": "unemployed",
    "years_since_first_contact": 3,
}


@pytest.fixture
def synced(db_session):
    sync_shipped(db_session)
    db_session.commit()


def statuses(db_session, participant, as_of):
    return {
        row.event: row.status
        for row in schedule_rows(db_session, as_of, participant_id=participant.id)
    }


def respond(db_session, participant, instrument, event, answers, status="complete", on=None):
    response = create_response(
        db_session,
        {
            "participant_id": participant.id,
            "instrument": instrument,
            "event": event,
            "status": status,
            "collected_on": on or date(2025, 6, 1),
            "answers": answers,
        },
    )
    db_session.commit()
    return response


@pytest.mark.parametrize(
    ("enrolled", "expected"),
    [
        # month ends clamp: 31 Oct + 4 months is 28 Feb, or 29 Feb in a leap year
        (
            date(2025, 10, 31),
            [date(2025, 10, 31), date(2026, 2, 28), date(2026, 6, 30), date(2026, 10, 31)],
        ),
        (
            date(2023, 10, 31),
            [date(2023, 10, 31), date(2024, 2, 29), date(2024, 6, 30), date(2024, 10, 31)],
        ),
        (
            date(2025, 1, 31),
            [date(2025, 1, 31), date(2025, 5, 31), date(2025, 9, 30), date(2026, 1, 31)],
        ),
        (
            date(2024, 2, 29),
            [date(2024, 2, 29), date(2024, 6, 29), date(2024, 10, 29), date(2025, 2, 28)],
        ),
    ],
)
def test_due_dates_clamp_to_month_ends(db_session, synced, make_participant, enrolled, expected):
    participant = make_participant("BU", enrolment_date=enrolled)
    rows = schedule_rows(db_session, date(2025, 1, 1), participant_id=participant.id)
    assert [r.event for r in rows] == ["T0", "T1", "T2", "T3"]
    assert [r.due_date for r in rows] == expected
    assert rows[1].window_start == date.fromordinal(expected[1].toordinal() - 14)
    assert rows[1].window_end == date.fromordinal(expected[1].toordinal() + 14)


@pytest.mark.parametrize(
    ("as_of", "status"),
    [
        (date(2025, 5, 16), "upcoming"),  # the day before the window opens
        (date(2025, 5, 17), "due"),  # window start (due date - 14 days)
        (date(2025, 5, 31), "due"),  # the due date
        (date(2025, 6, 1), "overdue"),
        (date(2025, 6, 14), "overdue"),  # window end (due date + 14 days)
        (date(2025, 6, 15), "missed"),
    ],
)
def test_window_edges(db_session, synced, make_participant, as_of, status):
    participant = make_participant("BU", enrolment_date=date(2025, 1, 31))
    assert statuses(db_session, participant, as_of)["T1"] == status


def test_completed_needs_every_due_instrument_complete(db_session, synced, make_participant):
    participant = make_participant("BU", enrolment_date=date(2025, 1, 31), diagnoses=DIAGNOSES)
    as_of = date(2025, 6, 20)
    respond(db_session, participant, "baseline_demographics", "T0", BASELINE)
    # T0 needs the baseline and the scale; T1 the scale only
    assert statuses(db_session, participant, as_of)["T0"] == "missed"
    respond(db_session, participant, "social_inclusion_scale", "T1", {}, status="incomplete")
    assert statuses(db_session, participant, as_of)["T1"] == "missed"
    respond(db_session, participant, "social_inclusion_scale", "T0", SCALE, on=date(2025, 2, 1))
    rows = {r.event: r for r in schedule_rows(db_session, as_of, participant_id=participant.id)}
    assert rows["T0"].status == "completed" and rows["T0"].completed_on == date(2025, 6, 1)
    assert rows["T2"].status == "upcoming" and rows["T2"].completed_on is None


def test_withdrawal_makes_later_events_not_applicable(db_session, synced, make_participant):
    participant = make_participant(
        "BU",
        enrolment_date=date(2025, 1, 31),
        status="withdrawn",
        withdrawal_date=date(2025, 6, 20),
        withdrawal_reason="moved away",
        diagnoses=DIAGNOSES,
    )
    respond(db_session, participant, "baseline_demographics", "T0", BASELINE)
    respond(db_session, participant, "social_inclusion_scale", "T0", SCALE)
    # T0 completed before; T1's window closed on 14 June, before the withdrawal: missed;
    # T2 and T3 fall after it
    assert statuses(db_session, participant, date(2025, 12, 1)) == {
        "T0": "completed",
        "T1": "missed",
        "T2": "not_applicable",
        "T3": "not_applicable",
    }
    # withdrawn on the window's last day: not applicable
    other = make_participant(
        "BU",
        enrolment_date=date(2025, 1, 31),
        status="withdrawn",
        withdrawal_date=date(2025, 6, 14),
    )
    assert statuses(db_session, other, date(2025, 6, 10))["T1"] == "not_applicable"


def test_only_enrolled_service_users_have_a_schedule(db_session, synced, make_participant):
    make_participant("BU", "mhw", age=40)
    make_participant("BU")  # not enrolled
    assert schedule_rows(db_session, date(2025, 1, 1)) == []


def test_schedule_settings_are_validated(tmp_path):
    settings = load_settings({"TRIALDM_SCHEDULE_EVENTS": "B:0, F1:3"}, instance_path=tmp_path)
    assert settings["SCHEDULE_EVENTS"] == (("B", 0), ("F1", 3))
    for bad in ("T0:0,T1:x", "T0", "T0:4,T1:2", "T0:0,T0:4", "T0:-1"):
        with pytest.raises(ConfigError, match="SCHEDULE_EVENTS"):
            load_settings({"TRIALDM_SCHEDULE_EVENTS": bad}, instance_path=tmp_path)
    with pytest.raises(ConfigError, match="SCHEDULE_WINDOW_DAYS"):
        load_settings({"TRIALDM_SCHEDULE_WINDOW_DAYS": "-3"}, instance_path=tmp_path)


def test_schedule_api_lists_by_site_and_status(api_as, db_session, synced, make_participant):
    late = make_participant("BU", enrolment_date=date(2025, 1, 31))
    make_participant("BU", enrolment_date=date(2025, 3, 10))
    make_participant("ULM", enrolment_date=date(2025, 1, 31))
    api = api_as("research_worker", ["BU"])
    response = api.get("/api/v1/schedule?status=overdue&as_of=2025-06-05")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["meta"]["total"] == 1
    item = body["items"][0]
    assert item == {
        "participant_id": late.id,
        "study_id": late.study_id,
        "site": "BU",
        "event": "T1",
        "due_date": "2025-05-31",
        "window_start": "2025-05-17",
        "window_end": "2025-06-14",
        "status": "overdue",
        "completed_on": None,
    }
    all_rows = api.get("/api/v1/schedule?as_of=2025-06-05&per_page=3").json
    assert all_rows["meta"]["total"] == 8 and len(all_rows["items"]) == 3
    coordinator = api_as("coordinator")
    overdue = coordinator.get("/api/v1/schedule?status=overdue&as_of=2025-06-05").json
    assert {i["site"] for i in overdue["items"]} == {"BU", "ULM"}
    only_ulm = coordinator.get("/api/v1/schedule?site=ULM&as_of=2025-06-05").json
    assert {i["site"] for i in only_ulm["items"]} == {"ULM"}
    assert api.get("/api/v1/schedule?status=late").status_code == 422


def test_participant_schedule_shows_instruments(api_as, db_session, synced, make_participant):
    participant = make_participant("BU", enrolment_date=date(2025, 1, 31), diagnoses=DIAGNOSES)
    response = respond(db_session, participant, "baseline_demographics", "T0", BASELINE)
    api = api_as("research_worker", ["BU"])
    body = api.get(f"/api/v1/participants/{participant.id}/schedule?as_of=2025-02-05").json
    t0 = body["events"][0]
    assert t0["event"] == "T0" and t0["status"] == "overdue"
    assert t0["instruments"] == [
        {"instrument": "baseline_demographics", "response_id": response.id, "status": "complete"},
        {"instrument": "social_inclusion_scale", "response_id": None, "status": "missing"},
    ]
    other = api_as("research_worker", ["ULM"])
    assert other.get(f"/api/v1/participants/{participant.id}/schedule").status_code == 404


def test_due_and_overdue_read_from_the_enrolment_range_match_the_whole_schedule(
    app, db_session, synced, make_participant
):
    """The dashboard's due and overdue events read only the people enrolled near each
    event's due date; for enrolments on every day of a year and a half (month ends
    clamp), on days next to month ends, they are those of the whole schedule."""
    from datetime import timedelta

    from trialdm.core.scoping import all_sites
    from trialdm.schedule.queries import ScheduleRow, open_events

    start = date(2024, 1, 1)
    people = [
        make_participant(enrolment_date=start + timedelta(days=n), arm="control")
        for n in range(560)
    ]
    respond(db_session, people[40], "social_inclusion_scale", "T1", SCALE, on=date(2025, 3, 1))
    with all_sites():
        for as_of in (date(2025, 2, 28), date(2025, 3, 1), date(2025, 8, 31), date(2025, 12, 31)):
            every = schedule_rows(db_session, as_of)
            rows = [ScheduleRow(*row) for row in open_events(db_session, as_of, ("overdue", "due"))]
            for status in ("due", "overdue"):
                expected = [r for r in every if r.status == status]
                found = [r for r in rows if r.status == status]
                assert len(found) == len(expected) > 0, (as_of, status)
                key = lambda r: (r.due_date, r.study_id, r.event)  # noqa: E731
                assert sorted(found, key=key) == sorted(expected, key=key)


def test_completed_events_are_the_schedules_completed_rows(
    app, db_session, synced, make_participant
):
    """The summaries count completed assessments from a statement without the windows:
    its rows are the schedule's rows with the status completed, whatever the day."""
    from sqlalchemy import select

    from trialdm.config import schedule_events
    from trialdm.core.scoping import all_sites
    from trialdm.instruments.queries import instruments_due_by_event
    from trialdm.schedule.queries import completed_events_query

    done = make_participant("BU", enrolment_date=date(2025, 1, 31), diagnoses=DIAGNOSES)
    respond(db_session, done, "baseline_demographics", "T0", BASELINE)
    respond(db_session, done, "social_inclusion_scale", "T0", SCALE)
    respond(db_session, done, "social_inclusion_scale", "T1", SCALE)
    respond(db_session, done, "social_inclusion_scale", "T2", {}, status="incomplete")
    half = make_participant("ULM", enrolment_date=date(2025, 3, 1), diagnoses=DIAGNOSES)
    respond(db_session, half, "baseline_demographics", "T0", BASELINE)
    left = make_participant(
        "BU",
        enrolment_date=date(2025, 1, 31),
        status="withdrawn",
        withdrawal_date=date(2025, 3, 1),
        withdrawal_reason="moved away",
    )
    respond(db_session, left, "social_inclusion_scale", "T1", SCALE)
    with all_sites():
        for as_of in (date(2025, 2, 1), date(2026, 6, 1)):
            expected = {
                (r.participant_id, r.site, r.event)
                for r in schedule_rows(db_session, as_of)
                if r.status == "completed"
            }
            statement = completed_events_query(
                schedule_events(app.config), instruments_due_by_event(db_session)
            ).subquery()
            found = {tuple(row) for row in db_session.execute(select(statement))}
            assert found == expected
    assert {(p, e) for p, _, e in found} == {(done.id, "T0"), (done.id, "T1"), (left.id, "T1")}
