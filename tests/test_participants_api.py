from datetime import date, timedelta

from trialdm.core.audit import AuditEvent


def enrolment(**extra):
    return {
        "site": "BU",
        "category": "service_user",
        "gender": "female",
        "year_of_birth": 1985,
        "enrolment_date": "2025-05-02",
        "consent_date": "2025-05-01",
        "consent_version": "2.1",
        "arm": "intervention",
        "diagnoses": ["F20", {"code": "other", "text": "hoarding"}],
        **extra,
    }


def test_create_allocates_study_ids_per_site_and_category(api_as):
    api = api_as("research_worker", ["BU"])
    first = api.post("/api/v1/participants", json=enrolment())
    second = api.post("/api/v1/participants", json=enrolment())
    psw = api.post(
        "/api/v1/participants",
        json={"site": "BU", "category": "psw", "gender": "male", "age": 41},
    )
    assert first.status_code == 201, first.json
    assert [first.json["study_id"], second.json["study_id"], psw.json["study_id"]] == [
        "BU-0001",
        "BU-0002",
        "BU-PSW-01",
    ]
    assert first.json["status"] == "enrolled"
    assert first.json["diagnoses"][0] == {"code": "F20", "label": "Schizophrenia", "text": None}
    assert first.headers["ETag"] == '"1"'


def test_study_id_is_read_only(api_as):
    api = api_as("research_worker", ["BU"])
    response = api.post("/api/v1/participants", json=enrolment(study_id="BU-9999"))
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert "study_id" in response.json["errors"]


def test_rules_give_field_errors_and_save_nothing(api_as, app):
    api = api_as("research_worker", ["BU"])
    future = (date.today() + timedelta(days=3)).isoformat()
    response = api.post(
        "/api/v1/participants",
        json=enrolment(year_of_birth=1940, consent_date="2025-06-01", enrolment_date="2025-05-02"),
    )
    assert response.status_code == 422
    errors = response.json["errors"]
    assert "outside the eligible 18–60" in errors["year_of_birth"][0]
    assert "consent_date" in errors
    response = api.post(
        "/api/v1/participants", json=enrolment(enrolment_date=future, consent_date=future)
    )
    assert "future" in response.json["errors"]["enrolment_date"][0], response.json
    listing = api.get("/api/v1/participants")
    assert listing.json["meta"]["total"] == 0


def test_unknown_site_and_malformed_requests(api_as):
    api = api_as("admin")
    response = api.post(
        "/api/v1/participants",
        json={"site": "XX", "category": "psw", "gender": "male", "year_of_birth": 1980},
    )
    assert response.status_code == 422
    assert response.json["errors"]["site"] == ["Unknown site 'XX'."]
    bad_json = api.post(
        "/api/v1/participants", data="{not json", headers={"Content-Type": "application/json"}
    )
    assert bad_json.status_code == 400
    assert bad_json.mimetype == "application/problem+json"
    wrong_type = api.post(
        "/api/v1/participants", data="site=BU", headers={"Content-Type": "text/plain"}
    )
    assert wrong_type.status_code == 415


def test_oversized_body_is_refused(api_as, app):
    api = api_as("admin")
    big = {
        "site": "BU",
        "category": "psw",
        "occupation": "x" * (app.config["MAX_CONTENT_LENGTH"] + 10),
    }
    response = api.post("/api/v1/participants", json=big)
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"


def test_update_needs_if_match_and_reason(api_as):
    api = api_as("research_worker", ["BU"])
    created = api.post("/api/v1/participants", json=enrolment()).json
    url = f"/api/v1/participants/{created['id']}"
    assert api.patch(url, json={"gender": "male", "reason": "typo"}).status_code == 428
    no_reason = api.patch(url, json={"gender": "male"}, headers={"If-Match": '"1"'})
    assert no_reason.status_code == 422 and "reason" in no_reason.json["errors"]
    ok = api.patch(url, json={"gender": "male", "reason": "typo"}, headers={"If-Match": '"1"'})
    assert ok.status_code == 200, ok.json
    assert ok.json["gender"] == "male" and ok.headers["ETag"] == '"2"'
    stale = api.patch(url, json={"gender": "female", "reason": "x"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert api.get(url).json["gender"] == "male"


def test_withdrawal_rules(api_as):
    api = api_as("research_worker", ["BU"])
    created = api.post("/api/v1/participants", json=enrolment()).json
    url = f"/api/v1/participants/{created['id']}"
    missing = api.patch(
        url, json={"status": "withdrawn", "reason": "left"}, headers={"If-Match": '"1"'}
    )
    assert "withdrawal_date" in missing.json["errors"]
    ok = api.patch(
        url,
        json={
            "status": "withdrawn",
            "withdrawal_date": "2025-07-01",
            "withdrawal_reason": "moved away",
            "reason": "withdrew",
        },
        headers={"If-Match": '"1"'},
    )
    assert ok.status_code == 200 and ok.json["status"] == "withdrawn"


def test_soft_delete_keeps_row_and_audits(api_as, db_session):
    created = api_as("research_worker", ["BU"]).post("/api/v1/participants", json=enrolment()).json
    url = f"/api/v1/participants/{created['id']}"
    api = api_as("site_lead", ["BU"])  # deleting is a site lead's decision
    assert api.delete(url, headers={"If-Match": '"1"'}).status_code == 422
    assert api.delete(url + "?reason=duplicate", headers={"If-Match": '"1"'}).status_code == 204
    assert api.get(url).status_code == 404
    events = (
        db_session.query(AuditEvent)
        .filter_by(entity="participants", entity_id=str(created["id"]))
        .order_by(AuditEvent.id)  # without it PostgreSQL returns them in any order
        .all()
    )
    assert [e.action for e in events] == ["insert", "delete"]
    assert events[1].reason == "duplicate" and events[1].source == "api"


def test_list_filters_sorts_and_pages(api_as, make_participant):
    for day in range(1, 6):
        make_participant(
            "BU", enrolment_date=date(2025, 1, day), arm="control" if day % 2 else "intervention"
        )
    api = api_as("research_worker", ["BU"])
    page = api.get("/api/v1/participants?arm=control&sort=-enrolment_date&per_page=2").json
    assert page["meta"]["total"] == 3
    assert [p["enrolment_date"] for p in page["items"]] == ["2025-01-05", "2025-01-03"]
    keyset = api.get(f"/api/v1/participants?after={page['items'][0]['id']}&per_page=10").json
    assert all(p["id"] > page["items"][0]["id"] for p in keyset["items"])
    bad = api.get("/api/v1/participants?sort=password")
    assert bad.status_code == 422 and "sort" in bad.json["errors"]
