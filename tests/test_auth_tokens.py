"""Bearer tokens: who they identify, and what resolving one costs per request."""

from __future__ import annotations

import sqlalchemy as sa

from tests.sql_helpers import inserted_tables, statements_during
from trialdm.auth.models import ApiToken
from trialdm.core.models import utcnow

PARTICIPANT = {"site": "BU", "category": "mhw", "gender": "female", "age": 45}


def test_create_resolves_token_in_one_select_and_trusts_membership_sites(api_as, db_session):
    api = api_as("research_worker", ["BU"])
    assert api.post("/api/v1/participants", json=PARTICIPANT).status_code == 201  # records use
    db_session.expunge_all()  # nothing cached: every lookup must hit the database

    responses = []
    seen = statements_during(
        lambda: responses.append(api.post("/api/v1/participants", json=PARTICIPANT)),
        data_only=False,  # on PostgreSQL the record and its audit row are one WITH statement
    )

    assert responses[0].status_code == 201, responses[0].json
    # token + user + memberships in one SELECT; the site is known to exist because a
    # membership references it; the diagnoses were just written, not to be read back.
    auth = [s for s in seen if "api_tokens" in s or "memberships" in s or "FROM users" in s]
    assert len(auth) == 1 and auth[0].startswith("SELECT"), seen
    assert not any("FROM sites" in s or "FROM participant_diagnoses" in s for s in seen), seen
    # (PostgreSQL's one statement names the diagnoses' table too; it writes no row here)
    written = [t for t in inserted_tables(seen) if t != "participant_diagnoses"]
    assert written == ["participants", "audit_events"], seen


def test_token_grants_follow_memberships(api_as):
    api = api_as("research_worker", ["BU", "UKE"])
    for site, expected in (("BU", 201), ("UKE", 201), ("ULM", 403)):
        response = api.post("/api/v1/participants", json={**PARTICIPANT, "site": site})
        assert response.status_code == expected, (site, response.json)
    coordinator = api_as("coordinator")
    assert coordinator.get("/api/v1/participants").json["meta"]["total"] == 2


def test_revoked_token_and_inactive_user_are_refused(api_as, db_session):
    revoked = api_as("research_worker", ["BU"])
    assert revoked.get("/api/v1/participants").status_code == 200
    token_row = db_session.scalar(sa.select(ApiToken).where(ApiToken.user_id == revoked.user.id))
    token_row.revoked_at = utcnow()
    db_session.commit()
    assert revoked.get("/api/v1/participants").status_code == 401

    inactive = api_as("research_worker", ["BU"])
    inactive.user.active = False
    db_session.commit()
    response = inactive.get("/api/v1/participants")
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert api_as("research_worker", ["BU"]).get("/api/v1/participants").status_code == 200


def test_token_use_is_recorded(api_as, db_session):
    api = api_as("site_lead", ["BU"])
    token_row = db_session.scalar(sa.select(ApiToken).where(ApiToken.user_id == api.user.id))
    assert token_row.last_used_at is None
    assert api.get("/api/v1/participants").status_code == 200
    db_session.expire_all()
    assert token_row.last_used_at is not None


def test_fidelity_is_read_only_for_intervention_participants(api_as, db_session):
    api = api_as("research_worker", ["BU"])
    enrolment = {
        "site": "BU",
        "category": "service_user",
        "gender": "male",
        "year_of_birth": 1980,
        "enrolment_date": "2025-03-01",
        "consent_date": "2025-03-01",
        "consent_version": "1",
    }
    control = statements_during(
        lambda: api.post("/api/v1/participants", json={**enrolment, "arm": "control"})
    )
    assert not any("contact_attendances" in s or "contact_sessions" in s for s in control)
    responses = []
    intervention = statements_during(
        lambda: responses.append(
            api.post("/api/v1/participants", json={**enrolment, "arm": "intervention"})
        )
    )
    # enrolled in March 2025, never contacted: the window closed short of the minimum
    assert responses[0].json["fidelity"]["status"] == "not_met"
    # a participant just created has no contacts: nothing to read
    assert not any("contact" in s for s in intervention)
    read = statements_during(
        lambda: api.get(f"/api/v1/participants/{responses[0].json['id']}").status_code == 200
    )
    assert sum("contact" in s for s in read) == 1
