"""Queries (discrepancy management): opening on a record, a response or a field; the
site answers; whoever opened it closes or re-opens; listed, counted, exported,
audited; the monitor role reads and asks but changes no data."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from tests.quality_helpers import enrolled_with_baseline
from trialdm.core.audit import AuditEvent


@pytest.fixture
def record(db_session, make_participant):
    return enrolled_with_baseline(db_session, make_participant)


def open_on_field(api, response, field="employment", question="Is part-time right?"):
    return api.post(
        "/api/v1/queries",
        json={"response_id": response.id, "field": field, "question": question},
    )


def test_life_cycle_open_answer_reopen_answer_close(api_as, record, db_session):
    participant, response = record
    monitor = api_as("monitor", ["BU"])
    worker = api_as("research_worker", ["BU"])

    opened = open_on_field(monitor, response)
    assert opened.status_code == 201, opened.json
    query = opened.json
    assert query["status"] == "open" and query["participant_id"] == participant.id
    assert query["field"] == "employment" and query["origin"] == "manual"
    assert opened.headers["ETag"] == '"1"'
    url = f"/api/v1/queries/{query['id']}"

    answered = worker.post(
        f"{url}/answer", json={"text": "Checked the source: correct."}, headers={"If-Match": '"1"'}
    )
    assert answered.status_code == 200, answered.json
    assert answered.json["status"] == "answered"
    assert answered.headers["ETag"] == '"2"'

    reopened = monitor.post(
        f"{url}/reopen", json={"text": "The CRF says full time."}, headers={"If-Match": '"2"'}
    )
    assert reopened.json["status"] == "open"
    worker.post(f"{url}/answer", json={"text": "Corrected."}, headers={"If-Match": '"3"'})
    closed = monitor.post(f"{url}/close", json={"text": "Thanks."}, headers={"If-Match": '"4"'})
    assert closed.status_code == 200 and closed.json["status"] == "closed"
    steps = [(m["action"], m["text"]) for m in closed.json["messages"]]
    assert steps == [
        ("open", "Is part-time right?"),
        ("answer", "Checked the source: correct."),
        ("reopen", "The CRF says full time."),
        ("answer", "Corrected."),
        ("close", "Thanks."),
    ]
    audited = db_session.scalars(
        select(AuditEvent.action).where(AuditEvent.entity == "data_query_messages")
    ).all()
    assert len(audited) == 5
    statuses = db_session.scalars(
        select(AuditEvent.changes)
        .where(AuditEvent.entity == "data_queries", AuditEvent.action == "update")
        .order_by(AuditEvent.id)
    ).all()
    assert [c["status"] for c in statuses] == [
        ["open", "answered"],
        ["answered", "open"],
        ["open", "answered"],
        ["answered", "closed"],
    ]


def test_transitions_need_the_version_and_follow_the_life_cycle(api_as, record):
    _, response = record
    lead = api_as("site_lead", ["BU"])
    query = open_on_field(lead, response).json
    url = f"/api/v1/queries/{query['id']}"
    assert lead.post(f"{url}/answer", json={"text": "x"}).status_code == 428
    stale = lead.post(f"{url}/answer", json={"text": "x"}, headers={"If-Match": '"7"'})
    assert stale.status_code == 412
    assert (
        lead.post(f"{url}/reopen", json={"text": "x"}, headers={"If-Match": '"1"'}).status_code
        == 409
    )
    lead.post(f"{url}/close", json={}, headers={"If-Match": '"1"'})
    again = lead.post(f"{url}/answer", json={"text": "late"}, headers={"If-Match": '"2"'})
    assert again.status_code == 409
    assert "only an open query" in again.json["detail"]


def test_who_may_do_what(api_as, record):
    _, response = record
    monitor = api_as("monitor", ["BU"])
    other_monitor = api_as("monitor", ["BU"])
    worker = api_as("research_worker", ["BU"])
    coordinator = api_as("coordinator")

    # research workers answer, they do not open or close
    assert open_on_field(worker, response).status_code == 403
    assert open_on_field(coordinator, response).status_code == 201
    query = open_on_field(monitor, response).json
    url = f"/api/v1/queries/{query['id']}"
    # a monitor does not answer for the site
    assert (
        monitor.post(f"{url}/answer", json={"text": "x"}, headers={"If-Match": '"1"'}).status_code
        == 403
    )
    # only who opened it closes it
    refused = other_monitor.post(f"{url}/close", json={}, headers={"If-Match": '"1"'})
    assert refused.status_code == 403
    assert "who opened this query" in refused.json["detail"]
    assert worker.post(f"{url}/close", json={}, headers={"If-Match": '"1"'}).status_code == 403
    assert monitor.post(f"{url}/close", json={}, headers={"If-Match": '"1"'}).status_code == 200


def test_targets_are_checked(api_as, record, make_participant):
    participant, response = record
    lead = api_as("site_lead", ["BU"])
    on_record = lead.post(
        "/api/v1/queries",
        json={"participant_id": participant.id, "field": "consent_date", "question": "Date?"},
    )
    assert on_record.status_code == 201 and on_record.json["response_id"] is None
    whole_form = lead.post("/api/v1/queries", json={"response_id": response.id, "question": "?"})
    assert whole_form.status_code == 201 and whole_form.json["field"] is None
    bad_field = open_on_field(lead, response, field="shoe_size")
    assert bad_field.status_code == 422
    assert "shoe_size" in bad_field.json["errors"]["field"][0]
    nothing = lead.post("/api/v1/queries", json={"question": "?"})
    assert nothing.status_code == 422 and "participant_id" in nothing.json["errors"]
    other = make_participant("BU")
    mismatch = lead.post(
        "/api/v1/queries",
        json={"participant_id": other.id, "response_id": response.id, "question": "?"},
    )
    assert mismatch.status_code == 422


def test_monitor_reads_its_sites_and_changes_no_data(api_as, record, make_participant):
    participant, response = record
    ulm = make_participant("ULM")
    given = api_as("monitor", ["BU"])
    everywhere = api_as("monitor")
    listed = given.get("/api/v1/participants").json["items"]
    assert {p["site"] for p in listed} == {"BU"}
    assert {p["site"] for p in everywhere.get("/api/v1/participants").json["items"]} >= {
        "BU",
        "ULM",
    }
    assert given.get(f"/api/v1/participants/{ulm.id}").status_code == 404
    assert given.get(f"/api/v1/responses/{response.id}").status_code == 200
    change = given.patch(
        f"/api/v1/responses/{response.id}",
        json={"answers": {"employment": "retired"}, "reason": "monitor"},
        headers={"If-Match": '"1"'},
    )
    assert change.status_code == 403
    assert (
        given.patch(
            f"/api/v1/participants/{participant.id}",
            json={"occupation": "x", "reason": "monitor"},
            headers={"If-Match": '"1"'},
        ).status_code
        == 403
    )
    signing = given.post(
        "/api/v1/signatures", json={"response_id": response.id, "password": "correct horse 1"}
    )
    assert signing.status_code == 403


def test_listed_per_site_and_participant_counted_and_exported(
    api_as, record, db_session, make_participant
):
    participant, response = record
    lead = api_as("site_lead", ["BU"])
    open_on_field(lead, response, question='=HYPERLINK("x")')
    lead.post("/api/v1/queries", json={"participant_id": participant.id, "question": "ok?"})
    other = make_participant("BU")
    third = lead.post("/api/v1/queries", json={"participant_id": other.id, "question": "?"}).json
    lead.post(f"/api/v1/queries/{third['id']}/close", json={}, headers={"If-Match": '"1"'})

    mine = lead.get(f"/api/v1/queries?participant_id={participant.id}").json
    assert mine["meta"]["total"] == 2
    assert lead.get("/api/v1/queries?site=BU&status=open").json["meta"]["total"] == 2
    counts = lead.get("/api/v1/queries/counts").json
    assert counts == [{"site": "BU", "open": 2, "answered": 0, "closed": 1}]
    assert api_as("site_lead", ["ULM"]).get("/api/v1/queries").json["meta"]["total"] == 0

    exported = lead.get("/api/v1/queries/export?site=BU")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert len(rows) == 3
    # a spreadsheet would run this as a formula: it is kept as text
    assert rows[0]["question"] == '\'=HYPERLINK("x")'
    assert "(open)" in rows[0]["conversation"]
    assert db_session.scalar(
        select(AuditEvent.id).where(
            AuditEvent.action == "export", AuditEvent.entity == "data_queries"
        )
    )


def test_monitor_role_needs_no_site_and_takes_given_ones(make_user):
    everywhere = make_user("monitor")
    some = make_user("monitor", ["BU", "PU"])
    assert [(m.role, m.site_code) for m in everywhere.memberships] == [("monitor", None)]
    assert sorted(m.site_code for m in some.memberships) == ["BU", "PU"]
