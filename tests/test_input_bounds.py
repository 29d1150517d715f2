"""Inputs the database or the parser cannot hold are refused at the edge: 404 or 422
with field messages, never a server error, and nothing saved."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import func, select

from trialdm.participants.models import Participant
from trialdm.qualitative.models import QualitativeSession


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/participants/2147483648",
        "/api/v1/participants/99999999999999999999999",
        "/api/v1/focus-groups/2147483648",
    ],
)
def test_ids_beyond_the_database_are_not_found(api_as, path):
    response = api_as("coordinator").get(path)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page=338288113145297280", "page"),
        ("after=2147483648", "after"),
        ("page=99999999999999999999999", "page"),
    ],
)
def test_paging_beyond_the_database_is_a_field_error(api_as, query, field):
    response = api_as("coordinator").get(f"/api/v1/participants?{query}")
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]


def test_a_foreign_key_beyond_the_database_is_a_field_error_not_a_crash(
    api_as, make_participant, db_session
):
    api = api_as("site_lead", ["BU"])
    body = {
        "site": "BU",
        "session_date": "2024-01-10",
        "format": "one_to_one",
        "attendees": [2147483648],
        "psws": [2147483648],
        "duration_min": 30,
    }
    response = api.post("/api/v1/contact-sessions", json=body)
    assert 400 <= response.status_code < 500, response.json
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"site": "BU", "notes": "a\u0000b"}, "notes", "NUL"),
        ({"site": "BU", "notes": "a\ud800b"}, "notes", "surrogate"),
        ({"site": "BU", "year_of_birth": 2**70}, "year_of_birth", "outside the range"),
    ],
)
def test_unstorable_json_values_name_their_field(api_as, db_session, body, field, message):
    before = db_session.scalar(select(func.count()).select_from(Participant))
    response = api_as("site_lead", ["BU"]).post(
        "/api/v1/participants",
        data=json.dumps({"category": "service_user", **body}),
        content_type="application/json",
    )
    assert response.status_code == 422, response.json
    assert message in " ".join(response.json["errors"][field])
    assert db_session.scalar(select(func.count()).select_from(Participant)) == before


def test_json_nested_without_end_is_refused(api_as):
    deep = "[" * 100_000 + "]" * 100_000
    response = api_as("site_lead", ["BU"]).post(
        "/api/v1/participants", data=deep, content_type="application/json"
    )
    assert response.status_code == 422
    assert "Nested deeper" in json.dumps(response.json["errors"])


def test_json_a_little_too_deep_is_refused(api_as):
    deep = {"site": "BU", "notes": "x"}
    for _ in range(40):
        deep = {"a": deep}
    response = api_as("site_lead", ["BU"]).post("/api/v1/participants", json=deep)
    assert response.status_code == 422
    assert "Nested deeper" in json.dumps(response.json["errors"])


def test_a_page_form_with_a_nul_character_is_refused(app, make_user, db_session):
    from tests.web_helpers import page_as

    before = db_session.scalar(select(func.count()).select_from(Participant))
    client = page_as(app, make_user, "site_lead", ["BU"])
    response = client.post(
        "/participants/new",
        data={"site": "BU", "category": "service_user", "notes": "a\x00b"},
    )
    assert response.status_code == 422
    assert "NUL" in response.get_data(as_text=True)
    assert db_session.scalar(select(func.count()).select_from(Participant)) == before


@pytest.mark.parametrize(
    ("cell", "message"),
    [("x" * 200_000, "longer than 131,072 characters"), ("a\x00b", "NUL")],
)
def test_csv_cells_the_database_cannot_hold_name_file_and_line(api_as, db_session, cell, message):
    sessions = (
        "site_code,kind,date,duration_min,location,mode,language\n"
        "BU,focus_group,2021-08-24,51,Butabika,in_person,en\n"
        f"BU,focus_group,2021-08-25,51,{cell},in_person,en\n"
    )
    members = "site_code,member_code,gender,age,profession\n"
    response = api_as("site_lead", ["BU"]).post(
        "/api/v1/focus-groups/import",
        data={
            "sessions": (io.BytesIO(sessions.encode()), "sessions.csv"),
            "members": (io.BytesIO(members.encode()), "members.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422, response.json
    assert message in " ".join(response.json["errors"]["sessions line 3"])
    assert db_session.scalar(select(func.count()).select_from(QualitativeSession)) == 0
