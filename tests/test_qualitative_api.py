"""Focus groups and interviews: members, answers, removal with reason, the rules."""

from datetime import date

import pytest

from trialdm.core.audit import AuditEvent


@pytest.fixture
def mhws(make_participant):
    return [
        make_participant("BU", "mhw", gender="female", age=40 + i, profession="nurse")
        for i in range(3)
    ]


def fg_body(members, **extra):
    return {
        "site": "BU",
        "date": "2021-08-24",
        "start_time": "10:00:00",
        "duration_min": 51,
        "location": "Recovery College, Butabika Hospital",
        "mode": "in_person",
        "language": "en",
        "moderator_role": "senior researcher",
        "assistant_role": "research assistant",
        "topic_guide_ref": "MHW FGD topic guide v2",
        "consent_recorded": True,
        "audio_ref": "BU-FGD-1.m4a",
        "members": members,
        **extra,
    }


def test_focus_group_with_members_and_answers(api_as, mhws):
    api = api_as("research_worker", ["BU"])
    response = api.post(
        "/api/v1/focus-groups",
        json=fg_body(
            [
                {"participant_id": mhws[0].id},
                {"participant_id": mhws[1].id, "age": 38, "profession": "psychiatrist"},
            ]
        ),
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["kind"] == "focus_group" and body["consent_recorded"] is True
    first, second = body["members"]
    # answers default to the participant's record, and may differ at the session
    assert (first["gender"], first["age"], first["profession"]) == ("female", 40, "nurse")
    assert (second["age"], second["profession"]) == (38, "psychiatrist")
    assert first["study_id"] == mhws[0].study_id
    listing = api.get(f"/api/v1/focus-groups?participant_id={mhws[1].id}").json
    assert [g["id"] for g in listing["items"]] == [body["id"]]
    assert api.get(f"/api/v1/interviews/{body['id']}").status_code == 404


def test_members_added_and_removed_with_reason(api_as, db_session, mhws):
    api = api_as("research_worker", ["BU"])
    group = api.post("/api/v1/focus-groups", json=fg_body([{"participant_id": mhws[0].id}])).json
    members_url = f"/api/v1/focus-groups/{group['id']}/members"
    added = api.post(members_url, json={"participant_id": mhws[1].id, "gender": "male"})
    assert added.status_code == 201, added.json
    again = api.post(members_url, json={"participant_id": mhws[1].id})
    assert again.status_code == 422
    assert again.json["errors"]["participant_id"] == [f"{mhws[1].study_id} is already a member."]
    member_url = f"{members_url}/{added.json['id']}"
    assert added.headers["ETag"] == '"1"' and added.json["version"] == 1
    seen = {"If-Match": added.headers["ETag"]}
    assert api.delete(member_url, headers=seen).status_code == 422  # no reason
    assert api.delete(member_url + "?reason=left").status_code == 428  # no If-Match
    removal = api.delete(member_url + "?reason=left before the start", headers=seen)
    assert removal.status_code == 204
    # the same removal again, with the version it was made on: refused, nothing recorded
    assert api.delete(member_url + "?reason=again", headers=seen).status_code == 412
    assert [m["participant_id"] for m in api.get(members_url).json["items"]] == [mhws[0].id]
    everyone = api.get(members_url + "?include_removed=true").json["items"]
    assert everyone[1]["removed_reason"] == "left before the start"
    assert everyone[1]["version"] == 2
    current = {"If-Match": '"2"'}
    gone = api.delete(member_url + "?reason=again", headers=current)
    assert gone.status_code == 422 and gone.json["errors"]["member_id"]
    first_url = f"{members_url}/{everyone[0]['id']}"
    fixed = api.patch(
        first_url, json={"age": 41, "reason": "misheard"}, headers={"If-Match": '"1"'}
    )
    assert fixed.status_code == 200 and fixed.json["age"] == 41
    assert fixed.headers["ETag"] == '"2"' and fixed.json["version"] == 2
    events = (
        db_session.query(AuditEvent)
        .filter_by(entity="qualitative_members")
        .order_by(AuditEvent.id)
        .all()
    )
    assert [e.action for e in events] == ["insert", "insert", "update", "update"]
    assert events[2].reason == "left before the start" and events[2].site_code == "BU"
    assert events[3].changes["age"] == [40, 41] and events[3].reason == "misheard"
    readded = api.post(members_url, json={"participant_id": mhws[1].id})
    assert readded.status_code == 201 and readded.json["id"] == added.json["id"]


def test_interview_has_exactly_one_member(api_as, make_participant, mhws):
    api = api_as("research_worker", ["BU"])
    psw = make_participant("BU", "psw")
    body = fg_body([], mode="phone", location=None)
    none = api.post("/api/v1/interviews", json=body)
    assert none.json["errors"]["members"] == ["An interview has exactly one member."]
    two = api.post(
        "/api/v1/interviews",
        json={**body, "members": [{"participant_id": psw.id}, {"participant_id": mhws[0].id}]},
    )
    assert two.status_code == 422
    one = api.post("/api/v1/interviews", json={**body, "members": [{"participant_id": psw.id}]})
    assert one.status_code == 201, one.json
    extra = api.post(
        f"/api/v1/interviews/{one.json['id']}/members", json={"participant_id": mhws[0].id}
    )
    assert extra.status_code == 422
    assert "exactly one member" in extra.json["errors"]["participant_id"][0]


def test_rules_give_field_errors(api_as, make_participant, make_user, mhws):
    api = api_as("admin")
    elsewhere = make_participant("ULM", "mhw")
    ulm_user = make_user("research_worker", ["ULM"])
    bu_user = make_user("research_worker", ["BU"])
    response = api.post(
        "/api/v1/focus-groups",
        json=fg_body(
            [
                {"participant_id": elsewhere.id},
                {"participant_id": mhws[0].id},
                {"participant_id": mhws[0].id},
                {"participant_id": 999_999},
            ],
            mode="phone",
            moderator_user_id=ulm_user.id,
            assistant_user_id=987_654,
            duration_min=0,
        ),
    )
    assert response.status_code == 422
    errors = response.json["errors"]
    assert errors == {"duration_min": errors["duration_min"]}  # schema errors first
    response = api.post(
        "/api/v1/focus-groups",
        json=fg_body(
            [
                {"participant_id": elsewhere.id},
                {"participant_id": mhws[0].id},
                {"participant_id": mhws[0].id},
                {"participant_id": 999_999},
            ],
            mode="phone",
            moderator_user_id=ulm_user.id,
            assistant_user_id=987_654,
        ),
    )
    errors = response.json["errors"]
    assert errors["mode"] == ["A focus group meets in person or online."]
    assert errors["moderator_user_id"] == [f"User {ulm_user.id} does not work at BU."]
    assert errors["assistant_user_id"] == ["No user 987654."]
    assert errors["members"] == [
        f"Item 1: {elsewhere.study_id} belongs to another site (ULM).",
        f"Item 3: participant {mhws[0].id} is listed twice.",
        "Item 4: No participant 999999.",
    ]
    ok = api.post(
        "/api/v1/focus-groups",
        json=fg_body([{"participant_id": mhws[0].id}], moderator_user_id=bu_user.id),
    )
    assert ok.status_code == 201 and ok.json["moderator_user_id"] == bu_user.id


def test_update_and_delete_need_version_and_reason(api_as, db_session, mhws):
    api = api_as("research_worker", ["BU"])
    group = api.post("/api/v1/focus-groups", json=fg_body([{"participant_id": mhws[0].id}])).json
    url = f"/api/v1/focus-groups/{group['id']}"
    assert api.patch(url, json={"duration_min": 55, "reason": "r"}).status_code == 428
    ok = api.patch(
        url,
        json={"duration_min": 55, "field_notes": "calm", "reason": "from the recording"},
        headers={"If-Match": '"1"'},
    )
    assert ok.status_code == 200 and ok.json["duration_min"] == 55
    assert api.delete(url + "?reason=duplicate", headers={"If-Match": '"2"'}).status_code == 204
    assert api.get(url).status_code == 404
    actions = [
        e.action
        for e in db_session.query(AuditEvent)
        .filter_by(entity="qualitative_sessions", entity_id=str(group["id"]))
        .order_by(AuditEvent.id)
    ]
    assert actions == ["insert", "update", "delete"]


def test_other_sites_cannot_see_or_write(api_as, mhws):
    bu = api_as("research_worker", ["BU"])
    group = bu.post("/api/v1/focus-groups", json=fg_body([{"participant_id": mhws[0].id}])).json
    ulm = api_as("research_worker", ["ULM"])
    assert ulm.get(f"/api/v1/focus-groups/{group['id']}").status_code == 404
    assert ulm.get("/api/v1/focus-groups").json["meta"]["total"] == 0
    assert ulm.post("/api/v1/focus-groups", json=fg_body([])).status_code == 403
    response = ulm.post(
        "/api/v1/focus-groups", json=fg_body([{"participant_id": mhws[1].id}], site="ULM")
    )
    assert response.json["errors"]["members"] == [f"Item 1: No participant {mhws[1].id}."]
    assert date.fromisoformat(group["date"]) == date(2021, 8, 24)
