"""Quality pages: queries beside the field of a form, the conversation, opening,
answering and closing; signing with the password; unlocking; the dashboard count."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.quality_helpers import enrolled_with_baseline
from tests.web_helpers import PASSWORD, login
from trialdm.quality.models import DataQuery, Signature


@pytest.fixture
def record(db_session, make_participant):
    return enrolled_with_baseline(db_session, make_participant)


def test_monitor_opens_site_answers_monitor_closes(app, record, make_user, db_session):
    participant, response = record
    monitor = login(app.test_client(), make_user("monitor", ["BU"]))
    worker = login(app.test_client(), make_user("research_worker", ["BU"]))

    page = monitor.get(f"/questionnaires/{response.id}").get_data(as_text=True)
    assert f"/quality/queries/new?response_id={response.id}&amp;field=employment" in page
    empty = monitor.post(
        "/quality/queries/new", data={"response_id": response.id, "field": "employment"}
    )
    assert empty.status_code == 422 and "There is a problem" in empty.get_data(as_text=True)
    opened = monitor.post(
        "/quality/queries/new",
        data={"response_id": response.id, "field": "employment", "question": "Part time?"},
    )
    assert opened.status_code == 302
    query = db_session.scalars(select(DataQuery)).one()

    shown = worker.get(f"/questionnaires/{response.id}").get_data(as_text=True)
    assert f"Query</a> #{query.id}" in shown or f"#{query.id}</a>" in shown
    assert "Part time?" in shown
    assert 'id="close-form"' not in worker.get(f"/quality/queries/{query.id}").get_data(
        as_text=True
    )
    answered = worker.post(
        f"/quality/queries/{query.id}/answer", data={"text": "Yes, checked.", "version": "1"}
    )
    assert answered.status_code == 302
    stale = worker.post(
        f"/quality/queries/{query.id}/answer", data={"text": "Again", "version": "1"}
    )
    assert stale.status_code == 412
    closed = monitor.post(f"/quality/queries/{query.id}/close", data={"version": "2"})
    assert closed.status_code == 302
    db_session.expire_all()
    assert db_session.get(DataQuery, query.id).status == "closed"
    listing = monitor.get(f"/quality/queries?participant_id={participant.id}")
    assert "Part time?" in listing.get_data(as_text=True)
    assert "Queries" in monitor.get(f"/participants/{participant.id}").get_data(as_text=True)


def test_site_lead_signs_with_password_and_unlocks_with_reason(app, record, make_user, db_session):
    _, response = record
    lead = login(app.test_client(), make_user("site_lead", ["BU"]))
    page = lead.get(f"/questionnaires/{response.id}").get_data(as_text=True)
    assert f"/quality/sign?response_id={response.id}" in page
    form = lead.get(f"/quality/sign?response_id={response.id}").get_data(as_text=True)
    assert "Reviewed and approved" in form
    wrong = lead.post("/quality/sign", data={"response_id": response.id, "password": "nope"})
    assert wrong.status_code == 403
    assert "Not your password." in wrong.get_data(as_text=True)
    signed = lead.post("/quality/sign", data={"response_id": response.id, "password": PASSWORD})
    assert signed.status_code == 302
    page = lead.get(f"/questionnaires/{response.id}").get_data(as_text=True)
    assert "Signed and locked" in page and "Reviewed and approved" in page
    assert f"/questionnaires/{response.id}/edit" not in page
    signature = db_session.scalars(select(Signature)).one()
    no_reason = lead.post(f"/quality/signatures/{signature.id}/unlock", data={"version": "1"})
    assert no_reason.status_code == 422
    unlocked = lead.post(
        f"/quality/signatures/{signature.id}/unlock",
        data={"version": "1", "reason": "Employment misread"},
    )
    assert unlocked.status_code == 302
    assert lead.get(f"/questionnaires/{response.id}/edit").status_code == 200


def test_dashboard_counts_queries_of_the_users_sites(app, record, make_user, api_as):
    _, response = record
    api_as("site_lead", ["BU"]).post(
        "/api/v1/queries", json={"response_id": response.id, "question": "?"}
    )
    home = login(app.test_client(), make_user("monitor", ["BU"])).get("/").get_data(as_text=True)
    assert "/quality/queries?site=BU&amp;status=open" in home
    other = login(app.test_client(), make_user("monitor", ["ULM"])).get("/").get_data(as_text=True)
    assert "site=BU" not in other


def test_status_grid_counts_unresolved_queries_per_participant(app, record, make_user, api_as):
    participant, response = record
    lead = api_as("site_lead", ["BU"])
    for question in ("?", "??"):
        lead.post("/api/v1/queries", json={"response_id": response.id, "question": question})
    page = login(app.test_client(), make_user("monitor", ["BU"])).get("/status?site=BU")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Open queries" in text
    assert f'/quality/queries?participant_id={participant.id}">2</a>' in text
