"""Creating a participant: what it costs (statements) and the fidelity it answers with,
built without a query since a participant just created has no contacts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from dateutil.relativedelta import relativedelta

from tests.sql_helpers import inserted_tables, statements_during
from trialdm.contacts.fidelity import fidelity_without_contacts
from trialdm.contacts.queries import FidelityRule, fidelity_for
from trialdm.core.scoping import all_sites
from trialdm.extensions import db

TODAY = date.today()


def enrolled(**fields):
    enrolment = fields.pop("enrolment_date", TODAY - timedelta(days=400))
    return {
        "site": "BU",
        "category": "service_user",
        "gender": "female",
        "year_of_birth": enrolment.year - 35,
        "enrolment_date": enrolment.isoformat(),
        "consent_date": enrolment.isoformat(),
        "consent_version": "1.0",
        "arm": "intervention",
        **fields,
    }


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"intervention_start": (TODAY - timedelta(days=30)).isoformat()},
        {"intervention_start": (TODAY - timedelta(days=300)).isoformat()},
        {"arm": "control"},
    ],
)
def test_create_answers_fidelity_without_reading_contacts(api_as, db_session, fields):
    api = api_as("research_worker", ["BU"])
    assert api.post("/api/v1/participants", json=enrolled()).status_code == 201  # warm
    responses = []
    seen = statements_during(
        lambda: responses.append(api.post("/api/v1/participants", json=enrolled(**fields)))
    )
    created = responses[0]
    assert created.status_code == 201, created.json
    assert not any("contact_attendances" in s or "fidelity" in s for s in seen), seen
    with all_sites():
        expected = fidelity_for(db_session, [created.json["id"]]).get(created.json["id"])
    if expected is None:
        assert created.json["fidelity"] is None
    else:
        expected = {k: v.isoformat() if isinstance(v, date) else v for k, v in expected.items()}
        shown = {k: expected[k] for k in created.json["fidelity"]}
        assert created.json["fidelity"] == shown


def test_create_checks_the_new_record_without_a_statement(api_as):
    api = api_as("research_worker", ["BU"])
    assert api.post("/api/v1/participants", json=enrolled()).status_code == 201  # warm
    body = enrolled(diagnoses=["F20", {"code": "other", "text": "bench"}])
    seen = statements_during(lambda: api.post("/api/v1/participants", json=body), data_only=False)
    seen = [s for s in seen if not s.upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK"))]
    # the token with its memberships; the on-save checks of a participant just created
    # read nothing (the record is in memory; there are no responses or contacts yet).
    token = ["SELECT", "api_tokens.id,", "api_tokens.last_used_at,"]
    if db.engine.dialect.name != "postgresql":
        assert [s.split()[:3] for s in seen] == [
            token,
            ["UPDATE", "study_id_counters", "SET"],
            ["INSERT", "INTO", "participants"],
            *[["INSERT", "INTO", "participant_diagnoses"]] * 2,  # one per row on SQLite
            ["INSERT", "INTO", "audit_events"],
        ], seen
        return
    # On PostgreSQL one statement writes the participant (the study ID drawn inside
    # it, back by RETURNING), the diagnoses and the audit row.
    assert [s.split()[:3] for s in seen][:1] == [token], seen
    assert len(seen) == 2 and seen[1].startswith("WITH "), seen
    assert inserted_tables(seen) == ["participants", "participant_diagnoses", "audit_events"]
    assert "trialdm_next_study_id(" in seen[1], seen[1]


def test_study_ids_are_gapless_per_site_and_category(api_as, db_session):
    from trialdm.participants.models import StudyIdCounter

    api = api_as("research_worker", ["BU", "ULM"])
    with all_sites():
        before = {
            (row.site_code, row.category): row.last_value
            for row in db_session.query(StudyIdCounter)
        }
    created = []
    for site, body in [
        ("BU", enrolled()),
        ("ULM", enrolled(site="ULM")),
        ("BU", enrolled()),
        ("BU", {"site": "BU", "category": "psw", "gender": "male", "year_of_birth": 1980}),
        ("BU", enrolled(year_of_birth=1850)),  # refused: draws no number
        ("BU", enrolled()),
    ]:
        response = api.post("/api/v1/participants", json=body)
        if response.status_code == 201:
            created.append((site, body["category"], response.json["study_id"]))
        else:
            assert response.status_code == 422, response.json
    start = {
        key: before.get(key, 0)
        for key in [("BU", "service_user"), ("ULM", "service_user"), ("BU", "psw")]
    }
    assert [study_id for _, _, study_id in created] == [
        f"BU-{start['BU', 'service_user'] + 1:04d}",
        f"ULM-{start['ULM', 'service_user'] + 1:04d}",
        f"BU-{start['BU', 'service_user'] + 2:04d}",
        f"BU-PSW-{start['BU', 'psw'] + 1:02d}",
        f"BU-{start['BU', 'service_user'] + 3:04d}",
    ]


def test_without_contacts_matches_the_sql_across_the_window(app, db_session, make_participant):
    rule = FidelityRule.from_settings(app.config)
    start = TODAY - timedelta(days=20)
    end = start + relativedelta(months=rule.months)
    people = [
        make_participant("BU", enrolment_date=start - timedelta(days=5)),
        make_participant("BU", enrolment_date=start, intervention_start=start),
        make_participant(
            "BU",
            enrolment_date=start,
            intervention_start=start,
            status="withdrawn",
            withdrawal_date=start + timedelta(days=3),
        ),
    ]
    seen = set()
    day = start - timedelta(days=2)
    while day <= end + timedelta(days=3):
        with all_sites():
            by_sql = fidelity_for(db_session, [p.id for p in people], day)
        for person in people:
            assert fidelity_without_contacts(person, day, rule) == by_sql[person.id], (person, day)
            seen.add(by_sql[person.id]["status"])
        day += timedelta(days=3)
    assert {"not_started", "on_track", "at_risk", "not_met", "withdrawn"} <= seen


def test_token_requests_never_hash_a_password(api_as, monkeypatch):
    from argon2 import PasswordHasher

    api = api_as("research_worker", ["BU"])

    def refuse(*args, **kwargs):
        raise AssertionError("argon2 on a token request")

    for name in ("hash", "verify", "check_needs_rehash"):
        monkeypatch.setattr(PasswordHasher, name, refuse)
    assert api.post("/api/v1/participants", json=enrolled()).status_code == 201
    assert api.get("/api/v1/participants").status_code == 200


@pytest.mark.parametrize(
    "fields",
    [
        {"diagnoses": ["F20", {"code": "other", "text": "bench"}], "occupation": "baker"},
        {"arm": "control", "years_of_illness": 3.5, "marital_status": "unmarried"},
    ],
)
def test_create_answers_the_body_a_read_of_the_record_gives(api_as, fields):
    """The answer is built from the object in memory (study ID and version by
    RETURNING, fidelity without a query): it must equal what a read from the database
    answers, field for field."""
    api = api_as("research_worker", ["BU"])
    created = api.post("/api/v1/participants", json=enrolled(**fields))
    assert created.status_code == 201, created.json
    read = api.get(f"/api/v1/participants/{created.json['id']}")
    assert read.status_code == 200, read.json
    assert created.json == read.json
    assert created.headers["ETag"] == read.headers["ETag"]
    assert created.headers["Location"] == f"/api/v1/participants/{created.json['id']}"


def test_create_writes_one_audit_row_with_every_field(api_as, db_session):
    from trialdm.core.audit import AuditEvent

    api = api_as("research_worker", ["BU"])
    body = enrolled(diagnoses=["F20", {"code": "other", "text": "bench"}], occupation="baker")
    created = api.post("/api/v1/participants", json=body).json
    with all_sites():
        rows = (
            db_session.query(AuditEvent)
            .filter_by(entity="participants", entity_id=str(created["id"]))
            .all()
        )
    assert len(rows) == 1
    row = rows[0]
    assert (row.action, row.site_code, row.source, row.user_id, row.user_email) == (
        "insert",
        "BU",
        "api",
        api.user.id,
        api.user.email,
    )
    assert row.changes == {
        "id": [None, created["id"]],
        "site_code": [None, "BU"],
        "category": [None, "service_user"],
        "study_id": [None, created["study_id"]],
        "gender": [None, "female"],
        "year_of_birth": [None, body["year_of_birth"]],
        "occupation": [None, "baker"],
        "enrolment_date": [None, body["enrolment_date"]],
        "consent_date": [None, body["consent_date"]],
        "consent_version": [None, "1.0"],
        "arm": [None, "intervention"],
        "status": [None, "enrolled"],
        "diagnoses": [None, [{"code": "F20", "text": None}, {"code": "other", "text": "bench"}]],
    }
