"""The screening log over the API."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from trialdm.core.audit import AuditEvent


def test_record_list_change_and_delete(api_as, make_participant, db_session):
    worker = api_as("research_worker", ["BU"])
    created = worker.post(
        "/api/v1/screening",
        json={"site": "BU", "screening_date": "2025-02-03", "outcome": "eligible"},
    )
    assert created.status_code == 201, created.json
    entry = created.json
    assert created.headers["ETag"] == '"1"'
    person = make_participant("BU", enrolment_date=date(2025, 2, 10))
    url = f"/api/v1/screening/{entry['id']}"
    no_match = worker.patch(url, json={"participant_id": person.id, "reason": "enrolled"})
    assert no_match.status_code == 428
    linked = worker.patch(
        url, json={"participant_id": person.id, "reason": "enrolled"}, headers={"If-Match": '"1"'}
    )
    assert linked.status_code == 200 and linked.json["participant_id"] == person.id
    listed = worker.get("/api/v1/screening?outcome=eligible").json
    assert [item["id"] for item in listed["items"]] == [entry["id"]]
    gone = worker.delete(url + "?reason=entered twice", headers={"If-Match": '"2"'})
    assert gone.status_code == 204
    assert worker.get(url).status_code == 404
    actions = db_session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.entity == "screening_entries", AuditEvent.entity_id == str(entry["id"]))
        .order_by(AuditEvent.id)
    ).all()
    assert actions == ["insert", "update", "delete"]


def test_rules_give_field_errors(api_as, make_participant):
    worker = api_as("research_worker", ["BU"])
    other_site = make_participant("ULM", enrolment_date=date(2025, 2, 10))
    future = (date.today() + timedelta(days=2)).isoformat()
    bad = worker.post(
        "/api/v1/screening",
        json={"site": "BU", "screening_date": future, "outcome": "not_eligible"},
    )
    assert bad.status_code == 422
    assert set(bad.json["errors"]) == {"screening_date", "outcome_reason"}
    linked_elsewhere = worker.post(
        "/api/v1/screening",
        json={
            "site": "BU",
            "screening_date": "2025-01-01",
            "outcome": "eligible",
            "participant_id": other_site.id,
        },
    )
    assert linked_elsewhere.status_code == 422
    assert "participant_id" in linked_elsewhere.json["errors"]
    assert (
        worker.post(
            "/api/v1/screening",
            json={"site": "ULM", "screening_date": "2025-01-01", "outcome": "eligible"},
        ).status_code
        == 403
    )
