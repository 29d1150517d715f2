from datetime import date

import pytest

from tests.seeders.instruments import sync_shipped
from trialdm.audit.queries import history
from trialdm.instruments.models import ResponseAnswer

BASELINE = {
    "gender": "female",
    "year_of_birth": 1985,
    "marital_status": "single",
    "living_situation": "family",
    "employment": "part_time",
    "hours_per_week": 20,
    "diagnoses": ["depression", "anxiety"],
    "years_since_first_contact": 6.5,
}


@pytest.fixture
def enrolled(db_session, make_participant):
    sync_shipped(db_session)
    db_session.commit()
    # the record's diagnoses, which the questionnaire's diagnoses items show as groups
    return make_participant(
        "BU", enrolment_date=date(2025, 1, 31), diagnoses=[{"code": "F32.1"}, {"code": "F41.1"}]
    )


def post(api, participant, answers=None, **extra):
    body = {
        "participant_id": participant.id,
        "instrument": "baseline_demographics",
        "event": "T0",
        "collected_on": "2025-02-01",
        "answers": answers if answers is not None else {},
        **extra,
    }
    return api.post("/api/v1/responses", json=body)


def test_complete_response_records_version_answers_and_rows(api_as, enrolled, db_session):
    api = api_as("research_worker", ["BU"])
    created = post(api, enrolled, BASELINE, status="complete")
    assert created.status_code == 201, created.json
    body = created.json
    assert body["instrument_version"] == 2 and body["status"] == "complete"
    assert body["answers"]["diagnoses"] == ["depression", "anxiety"]
    assert body["answers"]["hours_per_week"] == 20.0
    assert created.headers["ETag"] == '"1"'
    rows = db_session.query(ResponseAnswer).filter_by(response_id=body["id"]).all()
    by_field = {(r.field, r.position): r for r in rows}
    # Queryable in SQL: a typed row per answer, one per chosen option.
    assert by_field[("employment", 0)].value_text == "part_time"
    # Year of birth is the participant record's (record_field): no second copy here.
    assert ("year_of_birth", 0) not in by_field
    assert body["answers"]["year_of_birth"] == 1985
    # Diagnoses are derived from the record's: no copy here either.
    assert ("diagnoses", 0) not in by_field
    assert api.get(f"/api/v1/responses/{body['id']}").json["answers"] == body["answers"]


def test_each_problem_is_a_field_level_422_and_nothing_is_saved(api_as, enrolled):
    api = api_as("research_worker", ["BU"])
    bad = {
        **BASELINE,
        "shoe_size": 42,
        "year_of_birth": "1985",
        "hours_per_week": 200,
        "gender": "unknown",
        "diagnoses": ["depression", "flu"],
    }
    response = post(api, enrolled, bad)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    errors = response.json["errors"]["answers"]
    assert set(errors) == {"shoe_size", "year_of_birth", "hours_per_week", "gender", "diagnoses"}
    assert "whole number" in errors["year_of_birth"][0]
    assert "at most 80" in errors["hours_per_week"][0]
    assert "not one of the choices" in errors["gender"][0]
    assert api.get("/api/v1/responses").json["meta"]["total"] == 0


def test_required_shown_fields_only_when_complete(api_as, enrolled):
    api = api_as("research_worker", ["BU"])
    partial = post(api, enrolled, {"gender": "male"})
    assert partial.status_code == 201 and partial.json["status"] == "incomplete"
    url = f"/api/v1/responses/{partial.json['id']}"
    incomplete = api.patch(
        url, json={"status": "complete"}, headers={"If-Match": partial.headers["ETag"]}
    )
    assert incomplete.status_code == 422
    errors = incomplete.json["errors"]["answers"]
    assert "living_situation" in errors and "employment" in errors
    # year_of_birth is filled from the participant record (record_field)
    assert "year_of_birth" not in errors
    # hours_per_week is shown only when employed; diagnosis_other only with 'other'
    assert "hours_per_week" not in errors and "diagnosis_other" not in errors


def test_hidden_field_with_a_value_is_refused(api_as, enrolled):
    api = api_as("research_worker", ["BU"])
    response = post(api, enrolled, {"employment": "unemployed", "hours_per_week": 10})
    assert response.status_code == 422
    assert "Not asked here" in response.json["errors"]["answers"]["hours_per_week"][0]


def test_missing_codes_are_answers_distinct_from_blank(api_as, enrolled, db_session):
    api = api_as("research_worker", ["BU"])
    answers = {**BASELINE, "living_situation": {"missing": "refused"}, "employment": None}
    del answers["hours_per_week"]  # not asked when employment is blank
    response = post(api, enrolled, answers, status="complete")
    assert response.status_code == 422
    assert list(response.json["errors"]["answers"]) == ["employment"]
    answers["employment"] = {"missing": "dont_know"}
    response = post(api, enrolled, answers, status="complete")
    assert response.status_code == 201, response.json
    assert response.json["answers"]["living_situation"] == {"missing": "refused"}
    row = (
        db_session.query(ResponseAnswer)
        .filter_by(response_id=response.json["id"], field="living_situation")
        .one()
    )
    assert row.missing_code == "refused" and row.value_text is None
    bad = post(api, enrolled, {"gender": {"missing": "forgot"}}, event=None)
    assert bad.status_code == 422


def test_edit_after_completion_needs_reason_and_is_audited_field_by_field(
    api_as, enrolled, db_session
):
    api = api_as("research_worker", ["BU"])
    created = post(api, enrolled, BASELINE, status="complete").json
    url = f"/api/v1/responses/{created['id']}"
    change = {"answers": {"employment": "unemployed", "gender": "diverse"}}
    no_reason = api.patch(url, json=change, headers={"If-Match": '"1"'})
    assert no_reason.status_code == 422 and "reason" in no_reason.json["errors"]
    ok = api.patch(url, json={**change, "reason": "misheard"}, headers={"If-Match": '"1"'})
    assert ok.status_code == 200, ok.json
    assert ok.headers["ETag"] == '"2"'
    # hours_per_week is hidden by the new employment answer: cleared, and audited
    assert "hours_per_week" not in ok.json["answers"]
    events = history(db_session, "responses", created["id"])
    answer_events = [e for e in events if e.action == "answers"]
    assert len(answer_events) == 2
    last = answer_events[-1]
    assert last.reason == "misheard" and last.source == "api"
    # gender is the participant record's: its change is in the record's trail
    assert last.changes == {
        "employment": ["part_time", "unemployed"],
        "hours_per_week": [20.0, None],
    }
    assert answer_events[0].changes["employment"] == [None, "part_time"]
    stale = api.patch(
        url, json={"answers": {"gender": "male"}, "reason": "x"}, headers={"If-Match": '"1"'}
    )
    assert stale.status_code == 412


def test_incomplete_edits_need_no_reason(api_as, enrolled):
    api = api_as("research_worker", ["BU"])
    created = post(api, enrolled, {"gender": "male"})
    url = f"/api/v1/responses/{created.json['id']}"
    ok = api.patch(url, json={"answers": {"gender": "female"}}, headers={"If-Match": '"1"'})
    assert ok.status_code == 200 and ok.json["answers"]["gender"] == "female"
    assert api.patch(url, json={"answers": {}}, headers={"If-Match": '"2"'}).status_code == 200


def test_event_instrument_and_respondent_rules(api_as, enrolled, make_participant):
    api = api_as("research_worker", ["BU"])
    assert post(api, enrolled, {}, event="T1").json["errors"]["event"]
    assert post(api, enrolled, {}, event=None).json["errors"]["event"]
    assert post(api, enrolled, {}, instrument="nope").json["errors"]["instrument"]
    assert post(api, enrolled, {}, instrument_version=9).json["errors"]["instrument"]
    mhw = make_participant("BU", "mhw", age=40)
    wrong = post(api, mhw, {}, event=None, instrument="psw_session_feedback")
    assert "participant_id" in wrong.json["errors"]
    assert post(api, enrolled, {}).status_code == 201
    duplicate = post(api, enrolled, {})
    assert duplicate.status_code == 409


def test_fgd_questionnaire_with_context_and_scores(api_as, enrolled, make_participant):
    api = api_as("research_worker", ["BU"])
    mhw = make_participant("BU", "mhw", age=40)
    fgd = post(
        api,
        mhw,
        {"gender": "female", "age": 41, "professional_background": "nurse"},
        instrument="fgd_member_questionnaire",
        event=None,
        context="focus_group:12",
        status="complete",
    )
    assert fgd.status_code == 201, fgd.json
    assert fgd.json["context"] == "focus_group:12"
    listed = api.get("/api/v1/responses?context=focus_group:12").json
    assert [r["id"] for r in listed["items"]] == [fgd.json["id"]]
    items = {f"si_{i:02d}": 2 for i in range(1, 11)}
    items["si_03"] = 0  # reverse-scored (0-3): counts 3; si_07 (2) counts 1
    scale = post(api, enrolled, items, instrument="social_inclusion_scale", status="complete")
    assert scale.status_code == 201, scale.json
    assert scale.json["scores"] == {"si_total": 20.0}  # 8 x 2 + 3 + 1


def test_delete_needs_reason_and_hides(api_as, enrolled):
    api = api_as("research_worker", ["BU"])
    created = post(api, enrolled, {"gender": "male"}).json
    url = f"/api/v1/responses/{created['id']}"
    assert api.delete(url, headers={"If-Match": '"1"'}).status_code == 422
    assert api.delete(url + "?reason=duplicate", headers={"If-Match": '"1"'}).status_code == 204
    assert api.get(url).status_code == 404
    assert post(api, enrolled, {}).status_code == 201  # the event is free again


def test_other_sites_cannot_see_or_write(api_as, enrolled):
    mine = api_as("research_worker", ["BU"])
    created = post(mine, enrolled, {"gender": "male"}).json
    other = api_as("research_worker", ["ULM"])
    assert other.get(f"/api/v1/responses/{created['id']}").status_code == 404
    assert other.get("/api/v1/responses").json["meta"]["total"] == 0
    assert post(other, enrolled, {}).json["errors"]["participant_id"]
    translator = api_as("translator", ["BU"])
    assert translator.get("/api/v1/responses").status_code == 403
    assert translator.get("/api/v1/instruments").status_code == 200
