import html
import json
import re
from datetime import date, timedelta

import pytest

from tests.seeders.instruments import sync_shipped
from tests.web_helpers import page_as
from trialdm.instruments.models import InstrumentResponse


@pytest.fixture
def synced(db_session):
    sync_shipped(db_session)
    db_session.commit()


def feedback_form(participant_id, **answers):
    data = {
        "participant_id": str(participant_id),
        "instrument": "psw_session_feedback",
        "collected_on": (date.today() - timedelta(days=1)).isoformat(),
        "a.session_date": (date.today() - timedelta(days=2)).isoformat(),
        "a.session_format": "group",
        "a.felt_understood": "4",
        "a.helpful": "5",
        "a.would_meet_again": "true",
    }
    data.update({"a." + k: v for k, v in answers.items()})
    return data


def test_form_is_generated_from_the_definition_with_its_condition(
    app, make_user, make_participant, synced
):
    participant = make_participant("BU", enrolment_date=date(2025, 1, 10))
    client = page_as(app, make_user, "research_worker", ["BU"])
    url = f"/questionnaires/new?participant_id={participant.id}&instrument=psw_session_feedback"
    page = client.get(url).get_data(as_text=True)
    assert "I felt understood by my peer support worker." in page
    assert 'name="a.felt_understood" value="5"' in page  # a 1-5 scale as radios
    # the condition's tree, for the page's script; the reference names the input
    shown = re.search(r'id="q-why_not" data-show-logic="([^"]*)"', page)
    assert json.loads(html.unescape(shown.group(1))) == {
        "op": "=",
        "args": [
            {"ref": "would_meet_again", "input": "a.would_meet_again", "kind": "yes_no"},
            {"str": "0"},
        ],
    }
    client.post("/language", data={"language": "de"})
    german = client.get(url).get_data(as_text=True)
    assert "Ich fühlte mich von meiner Peer-Begleitung verstanden." in german


def test_condition_is_checked_again_on_the_server_and_values_are_kept(
    app, make_user, make_participant, synced, db_session
):
    participant = make_participant("BU", enrolment_date=date(2025, 1, 10))
    client = page_as(app, make_user, "research_worker", ["BU"])
    url = f"/questionnaires/new?participant_id={participant.id}&instrument=psw_session_feedback"
    hidden_answered = client.post(
        url, data={**feedback_form(participant.id, why_not="sneaked in"), "complete": "1"}
    )
    assert hidden_answered.status_code == 422
    page = hidden_answered.get_data(as_text=True)
    assert 'id="error-why_not"' in page and "Not asked here" in page
    assert "sneaked in" in page and 'value="4" checked' in page
    out_of_range = client.post(url, data={**feedback_form(participant.id, helpful="9")})
    assert 'id="error-helpful"' in out_of_range.get_data(as_text=True)
    assert db_session.query(InstrumentResponse).count() == 0


def test_save_incomplete_then_complete_with_a_reason_to_change(
    app, make_user, make_participant, synced, db_session
):
    participant = make_participant("BU", enrolment_date=date(2025, 1, 10))
    client = page_as(app, make_user, "research_worker", ["BU"])
    url = f"/questionnaires/new?participant_id={participant.id}&instrument=psw_session_feedback"
    partial = feedback_form(participant.id, would_meet_again="", helpful="")
    saved = client.post(url, data=partial)
    assert saved.status_code == 302, saved.get_data(as_text=True)[:3000]
    response = db_session.query(InstrumentResponse).one()
    assert response.status == "incomplete"
    incomplete = client.post(
        f"/questionnaires/{response.id}/edit",
        data={**partial, "version": str(response.version_id), "complete": "1"},
    )
    assert incomplete.status_code == 422
    assert "Required to complete the response." in incomplete.get_data(as_text=True)
    complete = client.post(
        f"/questionnaires/{response.id}/edit",
        data={
            **feedback_form(participant.id, would_meet_again="false", why_not="more time"),
            "version": str(response.version_id),
            "complete": "1",
        },
    )
    assert complete.status_code == 302, complete.get_data(as_text=True)[:3000]
    shown = client.get(complete.headers["Location"]).get_data(as_text=True)
    assert "saved as complete" in shown and "more time" in shown
    form = client.get(f"/questionnaires/{response.id}/edit").get_data(as_text=True)
    assert 'name="reason"' in form
    db_session.refresh(response)
    no_reason = client.post(
        f"/questionnaires/{response.id}/edit",
        data={
            **feedback_form(participant.id, would_meet_again="false", why_not="less"),
            "version": str(response.version_id),
            "complete": "1",
        },
    )
    assert no_reason.status_code == 422
    assert 'id="error-reason"' in no_reason.get_data(as_text=True)


def test_participant_page_shows_the_schedule_and_the_dashboard_what_is_due(
    app, make_user, make_participant, synced
):
    participant = make_participant("BU", enrolment_date=date.today() - timedelta(days=5))
    client = page_as(app, make_user, "research_worker", ["BU"])
    page = client.get(f"/participants/{participant.id}").get_data(as_text=True)
    assert "Assessments and questionnaires" in page
    assert (
        f"participant_id={participant.id}&amp;instrument=social_inclusion_scale&amp;event=T0"
        in page
    )
    home = client.get("/").get_data(as_text=True)
    assert "Assessments due" in home and participant.study_id in home


def test_a_refused_save_shows_numbers_as_typed(app, make_user, make_participant, synced):
    """A decimal typed as 200 is shown again as 200 (not 200.0) beside its error."""
    participant = make_participant("BU", enrolment_date=date(2025, 1, 10))
    client = page_as(app, make_user, "research_worker", ["BU"])
    url = f"/questionnaires/new?participant_id={participant.id}&instrument=fgd_member_questionnaire"
    form = client.get(url).get_data(as_text=True)
    assert 'name="a.years_in_mental_health"' in form
    failed = client.post(
        url,
        data={
            "participant_id": str(participant.id),
            "instrument": "fgd_member_questionnaire",
            "collected_on": date.today().isoformat(),
            "a.years_in_mental_health": "200",
        },
    )
    assert failed.status_code == 422
    page = failed.get_data(as_text=True)
    assert 'id="error-years_in_mental_health"' in page
    assert 'value="200"' in page and "200.0" not in page


def test_pages_name_questionnaires_roles_and_diagnoses_as_people_do(
    app, make_user, make_participant, synced, db_session
):
    participant = make_participant(
        "BU", enrolment_date=date(2025, 1, 10), diagnoses=[{"code": "F20"}]
    )
    client = page_as(app, make_user, "research_worker", ["BU"])
    home = client.get("/").get_data(as_text=True)
    assert "Research worker · BU" in home and "research_worker ·" not in home
    shown = client.get(f"/participants/{participant.id}").get_data(as_text=True)
    assert "F20 Schizophrenia" in shown
    assert ">social_inclusion_scale<" not in shown and ">psw_session_feedback<" not in shown
    listing = client.get("/questionnaires").get_data(as_text=True)
    assert 'value="psw_session_feedback"' in listing
    assert ">psw_session_feedback<" not in listing
