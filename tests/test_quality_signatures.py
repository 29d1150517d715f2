"""Sign-off and locking: a site lead signs a completed form or a participant's event
with the password asked again; the signed forms refuse every write path with 423
until a site lead or an administrator unlocks them with a reason."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.quality_helpers import enrolled_with_baseline
from tests.redcap_helpers import RedcapClient, redcap_token
from tests.web_helpers import PASSWORD, login
from trialdm.core.audit import AuditEvent


@pytest.fixture
def record(db_session, make_participant):
    return enrolled_with_baseline(db_session, make_participant)


def sign_form(api, response, password=PASSWORD):
    return api.post("/api/v1/signatures", json={"response_id": response.id, "password": password})


def test_signature_stores_name_time_meaning_and_locks_the_api(api_as, record, make_user):
    _, response = record
    lead_user = make_user("site_lead", ["BU"])
    lead_user.display_name = "Dr. Ada Namusoke"
    lead = api_as("site_lead", user=lead_user)
    signed = sign_form(lead, response)
    assert signed.status_code == 201, signed.json
    body = signed.json
    assert body["signer"] == "Dr. Ada Namusoke"
    assert body["meaning"] == "Reviewed and approved"
    assert body["signed_at"] and body["standing"] is True
    assert body["response_ids"] == [response.id] and "password" not in body

    worker = api_as("research_worker", ["BU"])
    changed = worker.patch(
        f"/api/v1/responses/{response.id}",
        json={"answers": {"employment": "retired"}, "reason": "typo"},
        headers={"If-Match": '"1"'},
    )
    assert changed.status_code == 423
    assert changed.mimetype == "application/problem+json"
    assert "signed by Dr. Ada Namusoke" in changed.json["detail"]
    assert "unlock" in changed.json["detail"]
    deleted = worker.delete(
        f"/api/v1/responses/{response.id}?reason=x", headers={"If-Match": '"1"'}
    )
    assert deleted.status_code == 423
    assert (
        worker.get(f"/api/v1/responses/{response.id}").json["answers"]["employment"] == "part_time"
    )


def test_wrong_password_signs_nothing_and_is_audited(api_as, record, db_session):
    _, response = record
    lead = api_as("site_lead", ["BU"])
    refused = sign_form(lead, response, password="not my password")
    assert refused.status_code == 403
    assert refused.json["errors"] == {"password": ["Not your password."]}
    assert lead.get(f"/api/v1/signatures?response_id={response.id}").json["meta"]["total"] == 0
    assert db_session.scalar(select(AuditEvent.id).where(AuditEvent.action == "signature_refused"))


def test_only_completed_forms_and_only_site_leads_sign(api_as, record, db_session):
    participant, response = record
    worker = api_as("research_worker", ["BU"])
    assert sign_form(worker, response).status_code == 403
    assert sign_form(api_as("coordinator"), response).status_code == 403
    # another site's lead does not even see the form
    elsewhere = sign_form(api_as("site_lead", ["ULM"]), response)
    assert elsewhere.status_code == 422
    assert elsewhere.json["errors"] == {"response_id": ["No such response."]}
    lead = api_as("site_lead", ["BU"])
    created = worker.post(
        "/api/v1/responses",
        json={
            "participant_id": participant.id,
            "instrument": "social_inclusion_scale",
            "event": "T0",
            "collected_on": "2025-02-01",
            "answers": {},
        },
    ).json
    draft = lead.post(
        "/api/v1/signatures", json={"response_id": created["id"], "password": PASSWORD}
    )
    assert draft.status_code == 422 and "completed" in draft.json["errors"]["response_id"][0]
    assert sign_form(lead, response).status_code == 201
    assert sign_form(lead, response).status_code == 409


def test_event_signature_locks_every_form_of_the_event_and_new_ones(api_as, record):
    participant, response = record
    lead = api_as("site_lead", ["BU"])
    signed = lead.post(
        "/api/v1/signatures",
        json={"participant_id": participant.id, "event": "T0", "password": PASSWORD},
    )
    assert signed.status_code == 201, signed.json
    assert signed.json["scope"] == "event" and signed.json["response_ids"] == [response.id]
    worker = api_as("research_worker", ["BU"])
    late = worker.post(
        "/api/v1/responses",
        json={
            "participant_id": participant.id,
            "instrument": "social_inclusion_scale",
            "event": "T0",
            "collected_on": "2025-02-01",
            "answers": {},
        },
    )
    assert late.status_code == 423
    assert "Event T0 was signed" in late.json["detail"]
    assert (
        lead.post(
            "/api/v1/signatures",
            json={"participant_id": participant.id, "event": "T1", "password": PASSWORD},
        ).status_code
        == 422
    )


def test_unlock_needs_a_reason_lifts_the_lock_and_is_audited(api_as, record, db_session):
    _, response = record
    lead = api_as("site_lead", ["BU"])
    signature = sign_form(lead, response).json
    url = f"/api/v1/signatures/{signature['id']}/unlock"
    worker = api_as("research_worker", ["BU"])
    assert worker.post(url, json={"reason": "x"}, headers={"If-Match": '"1"'}).status_code == 403
    assert (
        api_as("monitor").post(url, json={"reason": "x"}, headers={"If-Match": '"1"'}).status_code
        == 403
    )
    assert lead.post(url, json={}, headers={"If-Match": '"1"'}).status_code == 422
    assert lead.post(url, json={"reason": "x"}).status_code == 428
    admin = api_as("admin")
    unlocked = admin.post(
        url, json={"reason": "Employment was misread"}, headers={"If-Match": '"1"'}
    )
    assert unlocked.status_code == 200
    assert unlocked.json["standing"] is False
    assert unlocked.json["unlock_reason"] == "Employment was misread"
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.entity == "signatures", AuditEvent.action == "update")
    ).one()
    assert event.reason == "Employment was misread"
    changed = worker.patch(
        f"/api/v1/responses/{response.id}",
        json={"answers": {"employment": "retired"}, "reason": "Employment was misread"},
        headers={"If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.json
    # the signature listing shows the lifted one; signing again locks again
    assert (
        lead.get(f"/api/v1/signatures?response_id={response.id}&standing=false").json["meta"][
            "total"
        ]
        == 1
    )
    assert sign_form(lead, response).status_code == 201


def test_pages_refuse_to_edit_a_signed_form(app, api_as, record, make_user):
    _, response = record
    sign_form(api_as("site_lead", ["BU"]), response)
    page = login(app.test_client(), make_user("research_worker", ["BU"]))
    form = page.get(f"/questionnaires/{response.id}/edit")
    assert form.status_code == 423
    assert "signed by" in form.get_data(as_text=True)
    posted = page.post(
        f"/questionnaires/{response.id}/edit",
        data={"employment": "retired", "reason": "x", "version": "1", "collected_on": "2025-02-01"},
    )
    assert posted.status_code == 423


def test_redcap_import_of_a_signed_form_is_refused_with_423(client, api_as, record, make_user):
    participant, response = record
    sign_form(api_as("site_lead", ["BU"]), response)
    redcap = RedcapClient(client, redcap_token(make_user("research_worker", ["BU"])))
    refused = redcap.import_records(
        [{"study_id": participant.study_id, "redcap_event_name": "t0_arm_1", "gender": "male"}],
        reason="x",
    )
    assert refused.status_code == 423
    assert "locked" in refused.get_data(as_text=True)


def test_the_guard_holds_for_code_that_forgets_to_check(db_session, api_as, record):
    """Any write path: a change made directly on the ORM is refused at flush."""
    from trialdm.core.errors import Locked

    _, response = record
    sign_form(api_as("site_lead", ["BU"]), response)
    response.collected_on = date(2025, 2, 2)
    with pytest.raises(Locked):
        db_session.flush()
    db_session.rollback()
