"""Contact sessions: every rule is a field-level 422, nothing half-saved, audited."""

from datetime import date, timedelta

import pytest

from trialdm.core.audit import AuditEvent
from trialdm.core.dates import today

ENROLLED = date(2025, 3, 3)


@pytest.fixture
def bu(make_participant):
    """A trained PSW and three intervention service users at BU."""
    psw = make_participant("BU", "psw", training_completed=date(2025, 1, 10))
    users = [make_participant("BU", enrolment_date=ENROLLED) for _ in range(3)]
    return psw, users


def session_body(psw, attendees, **extra):
    return {
        "site": "BU",
        "psws": [psw.id],
        "date": "2025-04-01",
        "format": "individual" if len(attendees) == 1 else "group",
        "mode": "in_person",
        "duration_min": 45,
        "place": "Recovery College",
        "attendees": [a.id for a in attendees],
        **extra,
    }


def test_create_individual_and_group_sessions(api_as, bu):
    psw, users = bu
    api = api_as("research_worker", ["BU"])
    one = api.post("/api/v1/contact-sessions", json=session_body(psw, users[:1]))
    assert one.status_code == 201, one.json
    assert one.json["attendees"] == [users[0].id] and one.json["psws"] == [psw.id]
    assert one.headers["ETag"] == '"1"'
    group = api.post(
        "/api/v1/contact-sessions", json=session_body(psw, users, start_time="14:30:00")
    )
    assert group.status_code == 201, group.json
    assert group.json["format"] == "group" and len(group.json["attendees"]) == 3
    listing = api.get(f"/api/v1/contact-sessions?participant_id={users[0].id}").json
    assert listing["meta"]["total"] == 2
    assert (
        api.get(f"/api/v1/contact-sessions?participant_id={users[1].id}").json["meta"]["total"] == 1
    )


def post_errors(api, body):
    response = api.post("/api/v1/contact-sessions", json=body)
    assert response.status_code == 422, response.json
    assert response.mimetype == "application/problem+json"
    return response.json["errors"]


def test_attendee_count_must_match_format(api_as, bu):
    psw, users = bu
    api = api_as("research_worker", ["BU"])
    errors = post_errors(api, session_body(psw, users[:2], format="individual"))
    assert errors["attendees"] == ["An individual session has exactly one attendee."]
    errors = post_errors(api, session_body(psw, users[:1], format="group"))
    assert errors["attendees"] == ["A group session has two or more attendees."]
    errors = post_errors(api, session_body(psw, [users[0], users[0]], format="group"))
    assert f"Participant {users[0].id} is listed twice." in errors["attendees"]
    errors = post_errors(api, session_body(psw, [], format="individual"))
    assert "exactly one attendee" in errors["attendees"][0]


def test_psws_must_be_trained_active_psws_of_the_site(api_as, make_participant, bu):
    psw, users = bu
    api = api_as("admin")
    untrained = make_participant("BU", "psw", training_completed=None)
    late = make_participant("BU", "psw", training_completed=date(2025, 6, 1))
    inactive = make_participant("BU", "psw", active=False, training_completed=date(2025, 1, 1))
    elsewhere = make_participant("ULM", "psw")
    body = session_body(psw, users[:1])
    cases = [
        ([], "Name at least one peer support worker."),
        ([untrained.id], f"{untrained.study_id} has not completed the PSW training."),
        ([late.id], f"{late.study_id} completed training on 2025-06-01, after the session."),
        ([inactive.id], f"{inactive.study_id} is not an active peer support worker."),
        ([elsewhere.id], f"{elsewhere.study_id} works at another site (ULM)."),
        ([users[1].id], f"{users[1].study_id} is not a peer support worker."),
        ([999_999], "No participant 999999."),
    ]
    for psws, message in cases:
        assert post_errors(api, {**body, "psws": psws})["psws"] == [message], psws


def test_attendees_must_be_enrolled_intervention_users_of_the_site(api_as, make_participant, bu):
    psw, _users = bu
    api = api_as("admin")
    control = make_participant("BU", enrolment_date=ENROLLED, arm="control")
    not_enrolled = make_participant("BU")
    other_site = make_participant("ULM", enrolment_date=ENROLLED)
    mhw = make_participant("BU", "mhw")
    cases = [
        (control, f"{control.study_id} is not in the intervention arm."),
        (not_enrolled, f"{not_enrolled.study_id} is not enrolled in the trial."),
        (other_site, f"{other_site.study_id} is enrolled at another site (ULM)."),
        (mhw, f"{mhw.study_id} is not a service user."),
        (psw, f"{psw.study_id} is not a service user."),
    ]
    for person, message in cases:
        errors = post_errors(api, session_body(psw, [person]))
        assert errors["attendees"] == [message]


def test_date_rules(api_as, make_participant, bu):
    psw, users = bu
    api = api_as("research_worker", ["BU"])
    tomorrow = (today("Africa/Kampala") + timedelta(days=1)).isoformat()  # at BU
    errors = post_errors(api, session_body(psw, users[:1], date=tomorrow))
    assert errors["date"] == ["The date is in the future."]
    errors = post_errors(api, session_body(psw, users[:1], date="2025-03-02"))
    assert errors["date"] == [f"Before the enrolment of {users[0].study_id} (2025-03-03)."]
    ok = api.post("/api/v1/contact-sessions", json=session_body(psw, users[:1], date="2025-03-03"))
    assert ok.status_code == 201, ok.json


def test_withdrawn_attendee_refused_from_withdrawal_date(api_as, make_participant, bu):
    psw, _ = bu
    api = api_as("research_worker", ["BU"])
    left = make_participant(
        "BU",
        enrolment_date=ENROLLED,
        status="withdrawn",
        withdrawal_date=date(2025, 5, 1),
        withdrawal_reason="moved",
    )
    before = api.post("/api/v1/contact-sessions", json=session_body(psw, [left], date="2025-04-30"))
    assert before.status_code == 201, before.json
    errors = post_errors(api, session_body(psw, [left], date="2025-05-01"))
    assert errors["attendees"] == [f"{left.study_id} withdrew on 2025-05-01, before the session."]


def test_schema_errors_and_site_scope(api_as, bu):
    psw, users = bu
    api = api_as("research_worker", ["BU"])
    errors = post_errors(
        api, {**session_body(psw, users[:1]), "mode": "telepathy", "duration_min": 0}
    )
    assert set(errors) == {"mode", "duration_min"}
    errors = post_errors(api, {**session_body(psw, users[:1]), "names": "Jane"})
    assert "names" in errors
    other = api_as("research_worker", ["ULM"])
    response = other.post("/api/v1/contact-sessions", json=session_body(psw, users[:1]))
    assert response.status_code == 403
    # a ULM worker writing to ULM with BU people: they do not exist for them
    errors = post_errors(other, {**session_body(psw, users[:1]), "site": "ULM"})
    assert errors["psws"] == [f"No participant {psw.id}."]
    assert errors["attendees"] == [f"No participant {users[0].id}."]
    assert api.get("/api/v1/contact-sessions").json["meta"]["total"] == 0


def test_update_and_delete_need_version_and_reason_and_are_audited(api_as, db_session, bu):
    psw, users = bu
    api = api_as("research_worker", ["BU"])
    created = api.post("/api/v1/contact-sessions", json=session_body(psw, users[:2])).json
    url = f"/api/v1/contact-sessions/{created['id']}"
    assert api.patch(url, json={"place": "x", "reason": "r"}).status_code == 428
    no_reason = api.patch(url, json={"place": "x"}, headers={"If-Match": '"1"'})
    assert no_reason.status_code == 422 and "reason" in no_reason.json["errors"]
    bad = api.patch(
        url,
        json={"attendees": [users[0].id], "reason": "typo"},
        headers={"If-Match": '"1"'},
    )
    assert bad.json["errors"]["attendees"] == ["A group session has two or more attendees."]
    ok = api.patch(
        url,
        json={"attendees": [users[0].id, users[2].id], "reason": "wrong person ticked"},
        headers={"If-Match": '"1"'},
    )
    assert ok.status_code == 200, ok.json
    assert ok.json["attendees"] == [users[0].id, users[2].id] and ok.headers["ETag"] == '"2"'
    stale = api.patch(url, json={"place": "y", "reason": "r"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert api.delete(url, headers={"If-Match": '"2"'}).status_code == 422
    assert api.delete(url + "?reason=entered twice", headers={"If-Match": '"2"'}).status_code == 204
    assert api.get(url).status_code == 404
    events = (
        db_session.query(AuditEvent)
        .filter_by(entity="contact_sessions", entity_id=str(created["id"]))
        .order_by(AuditEvent.id)
        .all()
    )
    assert [e.action for e in events] == ["insert", "update", "delete"]
    assert events[0].changes["attendances"] == [None, [users[0].id, users[1].id]]
    assert events[0].changes["psw_links"] == [None, [psw.id]] and events[0].site_code == "BU"
    assert events[1].changes["attendances"] == [
        [users[0].id, users[1].id],
        [users[0].id, users[2].id],
    ]
    assert events[1].reason == "wrong person ticked"
    assert events[2].reason == "entered twice" and events[2].user_id == api.user.id


def test_psws_endpoint_is_a_view_of_participants(api_as, make_participant, bu):
    psw, _ = bu
    make_participant("BU", "psw", active=False)
    api = api_as("research_worker", ["BU"])
    listing = api.get("/api/v1/psws?active=true").json
    assert [p["id"] for p in listing["items"]] == [psw.id]
    assert listing["items"][0]["can_deliver"] is True
    created = api.post(
        "/api/v1/psws",
        json={"site": "BU", "gender": "male", "age": 38, "training_completed": "2025-02-01"},
    )
    assert created.status_code == 201, created.json
    assert created.json["study_id"].startswith("BU-PSW-") and created.json["active"] is True
    url = f"/api/v1/psws/{created.json['id']}"
    changed = api.patch(
        url, json={"active": False, "reason": "left the service"}, headers={"If-Match": '"1"'}
    )
    assert changed.status_code == 200 and changed.json["can_deliver"] is False
    user = api.get("/api/v1/participants?category=service_user").json["items"][0]
    assert api.get(f"/api/v1/psws/{user['id']}").status_code == 404


def test_participant_changes_that_would_break_recorded_sessions(api_as, bu):
    psw, users = bu
    api = api_as("research_worker", ["BU"])
    body = session_body(psw, users[:1], date="2025-04-01")
    assert api.post("/api/v1/contact-sessions", json=body).status_code == 201
    url = f"/api/v1/participants/{users[0].id}"
    headers = {"If-Match": '"1"'}

    def errors(changes, target=url):
        response = api.patch(target, json={**changes, "reason": "r"}, headers=headers)
        assert response.status_code == 422, response.json
        return response.json["errors"]

    assert errors({"arm": "control"})["arm"] == [
        "Has recorded contact sessions; change or delete them first."
    ]
    assert errors({"enrolment_date": "2025-04-02", "consent_date": "2025-04-02"})[
        "enrolment_date"
    ] == ["After the first recorded contact (2025-04-01)."]
    withdraw = {"status": "withdrawn", "withdrawal_reason": "moved"}
    assert errors({**withdraw, "withdrawal_date": "2025-04-01"})["withdrawal_date"] == [
        "On or before a recorded contact (2025-04-01)."
    ]
    ok = api.patch(
        url, json={**withdraw, "withdrawal_date": "2025-04-02", "reason": "r"}, headers=headers
    )
    assert ok.status_code == 200, ok.json
    assert errors({"training_completed": "2025-05-01"}, f"/api/v1/psws/{psw.id}")[
        "training_completed"
    ] == ["This PSW gave a session on 2025-04-01; training must precede it."]
