"""Date items of instruments take bounds that may count from the day of entry
("today", "today-30"): checked wherever a response is saved (API, pages, self-report),
shown as the date input's min/max, and carried through REDCap dictionaries where REDCap
can hold them."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.seeders.instruments import sync_shipped
from tests.test_web_questionnaires import feedback_form
from tests.web_helpers import page_as
from trialdm.core.dates import today
from trialdm.core.errors import ValidationFailed
from trialdm.instruments.definitions import DefinitionError, InstrumentDefinition
from trialdm.instruments.definitions.dates import RelativeDate, as_date_bound
from trialdm.instruments.models import InstrumentResponse
from trialdm.instruments.redcap import export_dictionary
from trialdm.instruments.redcap_import import import_dictionary

TODAY = today("Africa/Kampala")  # the day at BU, where the tests' participants are
FUTURE = (TODAY + timedelta(days=730)).isoformat()
GERMAN = {"Accept-Language": "de"}


def dated(**bounds) -> InstrumentDefinition:
    return InstrumentDefinition.from_dict(
        {
            "name": "dated",
            "version": 1,
            "title": {"en": "Dated"},
            "fields": [{"name": "seen_on", "type": "date", "label": {"en": "Seen"}, **bounds}],
        }
    )


@pytest.fixture
def synced(db_session):
    sync_shipped(db_session)
    db_session.commit()


@pytest.mark.parametrize(
    ("text", "bound"),
    [
        ("today", RelativeDate(0)),
        ("today-36500", RelativeDate(-36500)),
        ("today + 7", RelativeDate(7)),
        ("2026-11-30", date(2026, 11, 30)),
        ("tomorrow", None),
        ("today-3 weeks", None),
    ],
)
def test_a_bound_is_a_day_or_today_plus_or_minus_days(text, bound):
    assert as_date_bound(text) == bound


def test_definitions_keep_relative_bounds_and_refuse_others():
    definition = dated(min="today-36500", max="today")
    assert definition.fields[0].min == RelativeDate(-36500)
    assert definition.to_dict()["fields"][0] | {} == {
        "name": "seen_on",
        "type": "date",
        "label": {"en": "Seen"},
        "min": "today-36500",
        "max": "today",
    }
    with pytest.raises(DefinitionError, match=r"fields\.seen_on\.max: must be a date"):
        dated(max="next week")
    with pytest.raises(DefinitionError, match="is above max"):
        dated(min="today", max="today-1")


def test_the_shipped_dates_are_not_in_the_future():
    from tests.test_instruments_redcap import SHIPPED
    from trialdm.instruments.definitions import load_definition_folder

    dates = [f for d in load_definition_folder(SHIPPED) for f in d.fields if f.type == "date"]
    assert dates and all(f.max == RelativeDate(0) for f in dates)


def test_the_api_refuses_a_future_date_in_german_and_saves_nothing(
    api_as, make_participant, synced, db_session
):
    participant = make_participant("BU", enrolment_date=TODAY - timedelta(days=30))
    api = api_as("research_worker", ["BU"])
    body = {
        "participant_id": participant.id,
        "instrument": "psw_session_feedback",
        "collected_on": TODAY.isoformat(),
        "status": "complete",
        "answers": {
            "session_date": FUTURE,
            "session_format": "group",
            "felt_understood": 4,
            "helpful": 5,
            "would_meet_again": True,
        },
    }
    refused = api.post("/api/v1/responses", json=body, headers=GERMAN)
    assert refused.status_code == 422, refused.json
    message = " ".join(refused.json["errors"]["answers"]["session_date"])
    shown_today = f"{TODAY.day:02d}.{TODAY.month:02d}.{TODAY.year}"
    assert message == f"Muss am oder vor dem {shown_today} liegen."
    assert db_session.query(InstrumentResponse).count() == 0

    body["answers"]["session_date"] = TODAY.isoformat()  # the bound itself is allowed
    saved = api.post("/api/v1/responses", json=body)
    assert saved.status_code == 201, saved.json
    assert saved.json["answers"]["session_date"] == TODAY.isoformat()


def test_the_page_refuses_a_future_date_in_german_and_shows_the_bounds(
    app, make_user, make_participant, synced, db_session
):
    participant = make_participant("BU", enrolment_date=TODAY - timedelta(days=30))
    client = page_as(app, make_user, "research_worker", ["BU"])
    client.post("/language", data={"language": "de"})
    url = f"/questionnaires/new?participant_id={participant.id}&instrument=psw_session_feedback"
    form = client.get(url).get_data(as_text=True)
    assert f'type="date" min="2015-01-01" max="{TODAY.isoformat()}"' in form

    refused = client.post(
        url, data={**feedback_form(participant.id, session_date=FUTURE), "complete": "1"}
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    error = page.split('id="error-session_date">')[1].split("</p>")[0]
    assert error.startswith("Muss am oder vor dem ") and str(TODAY.year) in error
    assert db_session.query(InstrumentResponse).count() == 0

    within = client.post(url, data={**feedback_form(participant.id), "complete": "1"})
    assert within.status_code == 302, within.get_data(as_text=True)[:500]
    assert db_session.query(InstrumentResponse).count() == 1


def test_self_report_refuses_a_future_date(app, api_as, make_participant, synced, db_session):
    participant = make_participant("BU", enrolment_date=TODAY - timedelta(days=10))
    worker = api_as("research_worker", ["BU"])
    made = worker.post(
        "/api/v1/self-report-links",
        json={
            "participant_id": participant.id,
            "instrument": "baseline_demographics",
            "event": "T0",
            "language": "de",
        },
    )
    assert made.status_code == 201, made.json
    path = made.json["url"][made.json["url"].index("/r/") :]
    phone = app.test_client()
    refused = phone.post(path, data={"a.first_contact_date": FUTURE, "save": "1"})
    assert refused.status_code == 422
    assert "Muss am oder vor dem" in refused.get_data(as_text=True)
    assert db_session.query(InstrumentResponse).count() == 0


def test_redcap_carries_a_today_bound_both_ways_and_refuses_what_it_cannot_hold():
    definition = dated(min="2015-01-01", max="today")
    exported = export_dictionary([definition])
    row = exported.splitlines()[1]
    assert ",date_ymd,2015-01-01,today," in row
    (back,) = import_dictionary(exported)
    assert back.fields[0].min == date(2015, 1, 1) and back.fields[0].max == RelativeDate(0)
    assert export_dictionary([back]) == exported

    with pytest.raises(ValidationFailed) as refused:
        export_dictionary([dated(min="today-36500")])
    assert "fields.seen_on.min" in refused.value.errors

    not_redcap = exported.replace(",today,", ",today-1,")
    with pytest.raises(DefinitionError, match="neither a date nor 'today'"):
        import_dictionary(not_redcap)
