import random
from datetime import date

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from trialdm.core.audit import AuditEvent
from trialdm.participants.models import Participant

STATE_FIELDS = (
    "gender",
    "year_of_birth",
    "marital_status",
    "occupation",
    "years_of_illness",
    "diagnoses",
    "status",
    "withdrawal_date",
    "withdrawal_reason",
    "arm",
    "consent_version",
    "study_id",
    "site_code",
)


def replay(events: list[AuditEvent]) -> dict:
    state: dict = {}
    for event in events:
        for field, (_, new) in event.changes.items():
            state[field] = new
    return state


def test_replaying_the_audit_trail_gives_the_current_state(api_as, db_session):
    rng = random.Random(20261123)
    api = api_as("research_worker", ["BU"])
    created = api.post(
        "/api/v1/participants",
        json={
            "site": "BU",
            "category": "service_user",
            "year_of_birth": 1980,
            "gender": "female",
            "enrolment_date": "2025-01-10",
            "consent_date": "2025-01-10",
            "consent_version": "1",
            "arm": "intervention",
            "diagnoses": ["F20"],
        },
    ).json
    url = f"/api/v1/participants/{created['id']}"
    version = 1
    choices = {
        "gender": ["female", "male", "diverse", "not_stated", None],
        "marital_status": ["unmarried", "married", "divorced", None],
        "occupation": ["farmer", "teacher", "=cmd", None],
        "years_of_illness": [1, 2.5, 10, None],
        "year_of_birth": [1970, 1975, 1990],
        "diagnoses": [["F20"], ["F31", "F32"], [], [{"code": "other", "text": "x"}]],
        "consent_version": ["1", "2", "2.1"],
    }
    for step in range(40):
        field = rng.choice(sorted(choices))
        value = rng.choice(choices[field])
        response = api.patch(
            url, json={field: value, "reason": f"step {step}"}, headers={"If-Match": f'"{version}"'}
        )
        assert response.status_code == 200, response.json
        version = response.json["version"]
    withdrawn = api.patch(
        url,
        json={
            "status": "withdrawn",
            "withdrawal_date": "2025-06-01",
            "withdrawal_reason": "moved",
            "reason": "withdrew",
        },
        headers={"If-Match": f'"{version}"'},
    )
    assert withdrawn.status_code == 200

    events = db_session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity == "participants", AuditEvent.entity_id == str(created["id"]))
        .order_by(AuditEvent.id)
    ).all()
    assert events[0].action == "insert" and all(e.action == "update" for e in events[1:])
    assert all(e.reason for e in events[1:]) and all(e.user_id == api.user.id for e in events)
    assert {e.source for e in events} == {"api"}
    state = replay(events)
    participant = db_session.get(Participant, created["id"])
    db_session.refresh(participant)
    current = {name: getattr(participant, name) for name in STATE_FIELDS if name != "diagnoses"}
    current["diagnoses"] = [d.as_value for d in participant.diagnoses]
    for name in STATE_FIELDS:
        expected = current[name]
        if isinstance(expected, date):
            expected = expected.isoformat()
        assert state.get(name) == expected, name


def test_update_event_records_old_and_new_values_and_role(api_as, db_session):
    api = api_as("site_lead", ["BU"])
    created = api.post(
        "/api/v1/participants",
        json={
            "site": "BU",
            "category": "mhw",
            "gender": "male",
            "profession": "nurse",
            "age": 40,
        },
    ).json
    api.patch(
        f"/api/v1/participants/{created['id']}",
        json={"profession": "psychologist", "reason": "wrong profession"},
        headers={"If-Match": '"1"'},
    )
    event = db_session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity_id == str(created["id"]), AuditEvent.action == "update"
        )
    ).one()
    assert event.changes == {"profession": ["nurse", "psychologist"]}
    assert event.role == "site_lead" and event.site_code == "BU"
    assert event.reason == "wrong profession"


def test_audit_rows_are_append_only_in_the_database(app, db_session, make_participant):
    make_participant("BU", "psw")
    event = db_session.scalars(select(AuditEvent)).first()
    with pytest.raises(DatabaseError, match="append-only"), db_session.begin_nested():
        db_session.execute(text("UPDATE audit_events SET reason = 'x'"))
    with pytest.raises(DatabaseError, match="append-only"), db_session.begin_nested():
        db_session.execute(text("DELETE FROM audit_events"))
    event.reason = "tampered"
    with pytest.raises(RuntimeError, match="append-only"):
        db_session.flush()
    db_session.rollback()


def test_audit_api_scopes_and_filters(api_as, make_participant):
    bu = make_participant("BU", "psw")
    make_participant("ULM", "psw")
    lead = api_as("site_lead", ["BU"])
    items = lead.get("/api/v1/audit?entity=participants").json["items"]
    assert {item["site"] for item in items} == {"BU"}
    one = lead.get(f"/api/v1/audit?entity=participants&id={bu.id}").json["items"]
    assert [item["action"] for item in one] == ["insert"]
    coordinator = api_as("coordinator")
    sites = {i["site"] for i in coordinator.get("/api/v1/audit?entity=participants").json["items"]}
    assert sites == {"BU", "ULM"}
    assert api_as("research_worker", ["BU"]).get("/api/v1/audit").status_code == 403


def test_membership_changes_and_logins_are_audited(api_as, client, make_user, db_session):
    admin = api_as("admin")
    user = make_user("research_worker", ["BU"])
    granted = admin.post(
        f"/api/v1/users/{user.id}/memberships", json={"role": "site_lead", "sites": ["BU"]}
    )
    assert granted.status_code == 201
    membership = next(m for m in granted.json["memberships"] if m["role"] == "site_lead")
    membership_url = f"/api/v1/users/{user.id}/memberships/{membership['id']}"
    seen = {"If-Match": f'"{membership["version"]}"'}
    assert admin.delete(membership_url, headers=seen).status_code == 204
    # a second removal of the same membership is refused and not recorded again
    assert admin.delete(membership_url, headers=seen).status_code == 404
    actions = [
        (e.entity, e.action)
        for e in db_session.scalars(
            select(AuditEvent).where(AuditEvent.entity == "memberships").order_by(AuditEvent.id)
        )
    ]
    assert actions[-2:] == [("memberships", "insert"), ("memberships", "delete")]

    client.post("/login", data={"email": user.email, "password": "wrong password"})
    client.post("/login", data={"email": "nobody@test.org", "password": "wrong password"})
    client.post("/login", data={"email": user.email, "password": "correct horse 1"})
    logins = db_session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity == "users", AuditEvent.action.in_(["login", "login_failed"]))
        .order_by(AuditEvent.id)
    ).all()
    assert [(e.action, e.changes.get("email")) for e in logins[-3:]] == [
        ("login_failed", user.email),
        ("login_failed", "nobody@test.org"),
        ("login", None),
    ]
    assert logins[-1].user_id == user.id and logins[-1].source == "page"
