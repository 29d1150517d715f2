"""History pages show values as people know them; the site log for leads."""

from __future__ import annotations

from datetime import date, timedelta

from tests.seeders.instruments import sync_shipped
from tests.web_helpers import page_as


def test_contact_history_names_people_by_study_id(app, make_user, make_participant, db_session):
    from trialdm.contacts.operations import create_contact_session

    psw = make_participant("BU", "psw")
    enrolled = date.today() - timedelta(days=30)
    users = [make_participant("BU", enrolment_date=enrolled, arm="intervention") for _ in range(2)]
    contact = create_contact_session(
        db_session,
        {
            "site": "BU",
            "date": date.today() - timedelta(days=1),
            "format": "group",
            "mode": "phone",
            "psws": [psw.id],
            "attendees": [u.id for u in users],
        },
    )
    db_session.commit()
    worker = page_as(app, make_user, "research_worker", ["BU"])
    page = worker.get(f"/contacts/{contact.id}/history").get_data(as_text=True)
    assert users[0].study_id in page and users[1].study_id in page and psw.study_id in page
    assert f"[{users[0].id}, {users[1].id}]" not in page
    assert ">Group<" in page.replace('<bdi dir="auto">', ">").replace("</bdi>", "<")
    assert ">id<" not in page and ">Site code<" not in page


def test_diagnoses_in_the_history_by_label(app, make_user, make_participant, db_session):
    participant = make_participant(
        "BU", enrolment_date=date(2025, 1, 10), diagnoses=[{"code": "F20"}]
    )
    lead = page_as(app, make_user, "site_lead", ["BU"])
    page = lead.get(f"/participants/{participant.id}/history").get_data(as_text=True)
    assert "F20 " in page and "Schizophrenia" in page
    assert "{&#39;code&#39;" not in page and "&#39;code&#39;" not in page


def test_questionnaire_history_with_question_texts_and_answer_labels(
    app, make_user, make_participant, db_session
):
    sync_shipped(db_session)
    db_session.commit()
    participant = make_participant("BU", enrolment_date=date(2025, 1, 10))
    worker = page_as(app, make_user, "research_worker", ["BU"])
    url = f"/questionnaires/new?participant_id={participant.id}&instrument=psw_session_feedback"
    saved = worker.post(
        url,
        data={
            "collected_on": (date.today() - timedelta(days=1)).isoformat(),
            "a.session_date": (date.today() - timedelta(days=2)).isoformat(),
            "a.session_format": "group",
            "a.felt_understood": "4",
            "a.helpful": "5",
            "a.would_meet_again": "true",
        },
    )
    assert saved.status_code == 302
    shown = worker.get(saved.headers["Location"]).get_data(as_text=True)
    history_url = saved.headers["Location"] + "/history"
    assert history_url.split("localhost")[-1] in shown
    page = worker.get(history_url).get_data(as_text=True)
    assert "I felt understood by my peer support worker." in page
    assert participant.study_id in page and "psw_session_feedback" not in page


def test_site_log_filters_by_record_type_and_person(app, make_user, make_participant):
    make_participant("BU", enrolment_date=date(2025, 1, 10))
    make_participant("ULM", enrolment_date=date(2025, 1, 10))
    lead = page_as(app, make_user, "site_lead", ["BU"])
    assert 'href="/audit/log"' in lead.get("/").get_data(as_text=True)
    page = lead.get("/audit/log?entity=participants").get_data(as_text=True)
    assert "BU-" in page and "ULM-" not in page
    assert "1 change" in page
    nobody = lead.get("/audit/log?user=nobody@example.org").get_data(as_text=True)
    assert "No changes match." in nobody
    bad = lead.get("/audit/log?since=yesterday")
    assert bad.status_code == 200 and "Enter a real date" in bad.get_data(as_text=True)
    coordinator = page_as(app, make_user, "coordinator")
    everything = coordinator.get("/audit/log?entity=participants").get_data(as_text=True)
    assert "BU-" in everything and "ULM-" in everything
