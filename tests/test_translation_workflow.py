"""Materials and the translation workflow: every transition and every refusal."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.seeders.instruments import sync_shipped
from tests.translation_helpers import (
    CONSENT,
    act,
    assign,
    create_material,
    fill_all,
    make_team,
    ok,
    source,
    start,
    step_of,
    write,
)
from trialdm.config import ConfigError, _translation_workflows, load_settings
from trialdm.core.audit import AuditEvent
from trialdm.instruments.models import InstrumentVersion
from trialdm.instruments.queries import stored_translations


def reload(api, translation):
    return ok(api.get(f"/api/v1/translations/{translation['id']}"))


@pytest.fixture
def team(api_as):
    return make_team(api_as)


def test_steps_follow_the_material_category(team):
    expected = {
        "local_text": ["forward", "review"],
        "study_generated": ["forward", "reconciliation", "review"],
        "secondary_measure": [
            "forward",
            "reconciliation",
            "back_translation",
            "review",
            "harmonisation",
        ],
        "primary_measure": [
            "forward",
            "reconciliation",
            "back_translation",
            "review",
            "harmonisation",
            "pretesting",
            "finalisation",
        ],
    }
    for category, kinds in expected.items():
        material = create_material(team.admin, category=category)
        translation = start(team, material, assign=False)
        assert [s["kind"] for s in translation["steps"]] == kinds
        assert {s["state"] for s in translation["steps"]} == {"pending"}
        assert translation["state"] == "in_progress"


def test_local_text_walks_every_transition_to_finished(team, db_session):
    material = create_material(team.admin)
    translation = start(team, material)
    assert step_of(translation, "forward")["assignee_id"] == team.translator.user.id

    ok(act(team.translator, translation, "forward", "start"))
    fill_all(team.translator, translation)
    submitted = ok(act(team.translator, translation, "forward", "submit"))
    assert submitted["state"] == "submitted"
    # The reviewer returns it with a comment on one segment ...
    ok(
        team.reviewer.post(
            f"/api/v1/translations/{translation['id']}/comments",
            json={"body": "Use the formal you", "segment_key": "p2"},
        ),
        201,
    )
    returned = ok(act(team.reviewer, translation, "forward", "return", "See p2"))
    assert returned["state"] == "returned"
    # ... the translator starts again, fixes and resubmits; it is accepted.
    ok(act(team.translator, translation, "forward", "start"))
    ok(write(team.translator, translation, "p2", "Okwetaba kwa kyeyagalire."))
    ok(act(team.translator, translation, "forward", "submit"))
    done = ok(act(team.reviewer, translation, "forward", "complete"))
    assert done["state"] == "done" and done["completed_by_id"] == team.reviewer.user.id

    ok(act(team.reviewer, translation, "review", "start"))
    ok(act(team.reviewer, translation, "review", "submit"))
    ok(act(team.reviewer2, translation, "review", "complete"))
    final = reload(team.translator, translation)
    assert final["state"] == "finished"
    assert final["current_step"] is None
    texts = {s["key"]: s["text"] for s in final["segments"]}
    assert texts["p2"] == "Okwetaba kwa kyeyagalire."
    assert [c["body"] for c in final["comments"]] == ["Use the formal you", "See p2"]
    assert final["comments"][0]["segment_key"] == "p2"
    states = [
        event.changes["state"]
        for event in db_session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.entity == "translation_steps",
                AuditEvent.entity_id == str(step_of(translation, "forward")["id"]),
                AuditEvent.action == "update",
            )
            .order_by(AuditEvent.id)
        )
        if "state" in event.changes
    ]
    assert states == [
        ["pending", "in_progress"],
        ["in_progress", "submitted"],
        ["submitted", "returned"],
        ["returned", "in_progress"],
        ["in_progress", "submitted"],
        ["submitted", "done"],
    ]


def test_out_of_order_is_refused(team):
    translation = start(team, create_material(team.admin))
    response = act(team.reviewer, translation, "review", "start")
    assert response.status_code == 422
    assert "Out of order" in response.json["errors"]["step"][0]
    ok(act(team.translator, translation, "forward", "start"))
    # Not submitted yet: cannot be completed, and writing after submit is refused.
    assert act(team.reviewer, translation, "forward", "complete").status_code == 422
    assert act(team.translator, translation, "forward", "start").status_code == 422


def test_submit_needs_every_segment(team):
    translation = start(team, create_material(team.admin))
    ok(act(team.translator, translation, "forward", "start"))
    ok(write(team.translator, translation, "p1", "Oyanirizibwa"))
    response = act(team.translator, translation, "forward", "submit")
    assert response.status_code == 422
    assert "p2, p3" in response.json["errors"]["segments"][0]


def test_return_needs_a_comment(team):
    translation = start(team, create_material(team.admin))
    ok(act(team.translator, translation, "forward", "start"))
    fill_all(team.translator, translation)
    ok(act(team.translator, translation, "forward", "submit"))
    response = act(team.reviewer, translation, "forward", "return")
    assert response.status_code == 422 and "comment" in response.json["errors"]


def test_same_person_may_not_forward_translate_and_review(team, api_as):
    material = create_material(team.admin)
    translation = start(team, material, assign=False)
    admin = team.admin
    forward, review = step_of(translation, "forward"), step_of(translation, "review")
    ok(assign(admin, translation, forward["id"], {"assignee_id": admin.user.id}))
    response = assign(admin, translation, review["id"], {"assignee_id": admin.user.id})
    assert response.status_code == 422
    assert "same person" in response.json["errors"]["assignee_id"][0]
    # The forward translator (an admin holds the reviewer's permission) cannot accept
    # the review either.
    ok(assign(admin, translation, review["id"], {"assignee_id": team.reviewer.user.id}))
    ok(act(admin, translation, "forward", "start"))
    fill_all(admin, translation)
    ok(act(admin, translation, "forward", "submit"))
    own = act(admin, translation, "forward", "complete")
    assert own.status_code == 422 and "yourself" in own.json["errors"]["step"][0]
    ok(act(team.reviewer, translation, "forward", "complete"))
    ok(act(team.reviewer, translation, "review", "start"))
    ok(act(team.reviewer, translation, "review", "submit"))
    refused = act(admin, translation, "review", "complete")
    assert refused.status_code == 422
    assert "the forward step" in refused.json["errors"]["step"][0]


def test_wrong_role_is_refused(team, api_as):
    material = create_material(team.admin)
    assert team.translator.post("/api/v1/materials", json={}).status_code == 403
    assert (
        team.translator.post(
            "/api/v1/translations",
            json={"material_id": material["id"], "site": "BU", "language": "lg"},
        ).status_code
        == 403
    )
    translation = start(team, material, assign=False)
    forward = step_of(translation, "forward")
    url = f"/api/v1/translations/{translation['id']}/steps/{forward['id']}"
    seen = {"If-Match": f'"{forward["version"]}"'}
    wrong = team.lead.patch(url, json={"assignee_id": team.reviewer.user.id}, headers=seen)
    assert wrong.status_code == 422
    assert "needs a translator of BU" in wrong.json["errors"]["assignee_id"][0]
    assigned = team.lead.patch(
        url, json={"assignee_id": team.translator.user.id, "due_date": "2099-01-31"}, headers=seen
    )
    ok(assigned)
    assert assigned.headers["ETag"] == f'"{forward["version"] + 1}"'
    # the same assignment on the version it was made on is stale; without one, asked for
    again = team.lead.patch(url, json={"due_date": "2099-02-28"}, headers=seen)
    assert again.status_code == 412
    assert team.lead.patch(url, json={"due_date": "2099-02-28"}).status_code == 428
    # Only the assignee works on a step; only a reviewer accepts it.
    assert act(team.reviewer, translation, "forward", "start").status_code == 403
    other = api_as("translator", ["BU"])
    assert act(other, translation, "forward", "start").status_code == 403
    ok(act(team.translator, translation, "forward", "start"))
    fill_all(team.translator, translation)
    ok(act(team.translator, translation, "forward", "submit"))
    refused = act(team.translator, translation, "forward", "complete")
    assert refused.status_code == 403 and "role" in refused.json["errors"]
    rw = api_as("research_worker", ["BU"])
    assert act(rw, translation, "forward", "complete").status_code == 403


def test_wrong_site_is_refused(team, api_as):
    material = create_material(team.admin)
    translation = start(team, material, assign=False)
    outsider = api_as("translator", ["ULM"])
    assert outsider.get(f"/api/v1/translations/{translation['id']}").status_code == 404
    assert act(outsider, translation, "forward", "start").status_code == 404
    assert outsider.get("/api/v1/translations").json["meta"]["total"] == 0
    # Materials are trial-wide: ULM sees the English source.
    assert outsider.get(f"/api/v1/materials/{material['id']}").status_code == 200
    ulm_lead = api_as("site_lead", ["ULM"])
    response = ulm_lead.post(
        "/api/v1/translations", json={"material_id": material["id"], "site": "BU", "language": "lg"}
    )
    assert response.status_code == 403
    forward = step_of(translation, "forward")
    response = team.lead.patch(
        f"/api/v1/translations/{translation['id']}/steps/{forward['id']}",
        json={"assignee_id": outsider.user.id},
        headers={"If-Match": f'"{forward["version"]}"'},
    )
    assert response.status_code == 422
    wrong_language = team.lead.post(
        "/api/v1/translations", json={"material_id": material["id"], "site": "BU", "language": "de"}
    )
    assert wrong_language.status_code == 422


def test_assignees_must_name_steps_of_the_workflow(team):
    material = create_material(team.admin)
    response = team.lead.post(
        "/api/v1/translations",
        json={
            "material_id": material["id"],
            "site": "BU",
            "language": "lg",
            "assignees": {"pretesting": {"assignee_id": team.translator.user.id}},
        },
    )
    assert response.status_code == 422
    assert "not a step of a local_text" in response.json["errors"]["assignees"][0]


def test_duplicate_translation_is_a_conflict(team):
    material = create_material(team.admin)
    start(team, material, assign=False)
    again = team.lead.post(
        "/api/v1/translations", json={"material_id": material["id"], "site": "BU", "language": "lg"}
    )
    assert again.status_code == 409


def finish_local(team, translation, prefix="Lg"):
    ok(act(team.translator, translation, "forward", "start"))
    fill_all(team.translator, translation, prefix)
    ok(act(team.translator, translation, "forward", "submit"))
    ok(act(team.reviewer2, translation, "forward", "complete"))
    ok(act(team.reviewer, translation, "review", "start"))
    ok(act(team.reviewer, translation, "review", "submit"))
    ok(act(team.reviewer2, translation, "review", "complete"))
    return reload(team.translator, translation)


def test_new_source_version_carries_unchanged_segments_over(team, api_as):
    material = create_material(team.admin)
    bu = finish_local(team, start(team, material))
    pu_team = make_team(api_as, "PU")
    pu = start(pu_team, material, site="PU", language="mr")  # still in progress
    version = team.admin.post(
        f"/api/v1/materials/{material['id']}/versions",
        json={
            "note": "Ethics amendment",
            "segments": source(
                ("p1", "You are invited to take part in a study."),  # unchanged
                ("p2", "Taking part is entirely voluntary."),  # changed
                ("p4", "Your data are pseudonymised."),  # new; p3 removed
            ),
        },
    )
    assert ok(version, 201)["number"] == 2
    assert team.admin.get(f"/api/v1/materials/{material['id']}").json["current_version"] == 2
    old = reload(team.translator, bu)
    assert old["state"] == "superseded"
    listing = team.translator.get(
        f"/api/v1/translations?material_id={material['id']}&state=in_progress"
    ).json
    assert listing["meta"]["total"] == 1  # PU's is not visible at BU
    new = reload(team.translator, listing["items"][0])
    assert new["version"] == 2 and new["previous_id"] == bu["id"]
    segments = {s["key"]: s for s in new["segments"]}
    assert segments["p1"] == {
        "key": "p1",
        "source": "You are invited to take part in a study.",
        "text": "Lg p1",
        "back_translation": None,
        "needs_update": False,
        "version": 1,
    }
    assert segments["p2"]["needs_update"] is True and segments["p2"]["text"] == "Lg p2"
    assert segments["p4"]["text"] is None and segments["p4"]["needs_update"] is False
    assert "p3" not in segments
    assert step_of(new, "forward")["assignee_id"] == team.translator.user.id
    assert {s["state"] for s in new["steps"]} == {"pending"}
    # A flagged segment must be updated before the step can be submitted.
    ok(act(team.translator, new, "forward", "start"))
    ok(write(team.translator, new, "p4", "Lg p4"))
    stale = act(team.translator, new, "forward", "submit")
    assert stale.status_code == 422 and "p2" in stale.json["errors"]["segments"][0]
    ok(write(team.translator, new, "p2", "Lg p2 v2"))
    assert ok(act(team.translator, new, "forward", "submit"))["state"] == "submitted"
    pu_new = pu_team.translator.get("/api/v1/translations?state=in_progress").json["items"]
    assert [t["version"] for t in pu_new] == [2]
    assert reload(pu_team.translator, pu)["state"] == "superseded"


def test_back_translation_step_writes_the_back_translation(team):
    material = create_material(team.admin, category="secondary_measure")
    translation = start(team, material, assign=False)
    for kind, who in [
        ("forward", team.translator),
        ("reconciliation", team.translator),
        ("back_translation", team.translator),
    ]:
        ok(
            assign(
                team.lead,
                translation,
                step_of(translation, kind)["id"],
                {"assignee_id": who.user.id},
            )
        )
    ok(act(team.translator, translation, "forward", "start"))
    fill_all(team.translator, translation)
    ok(act(team.translator, translation, "forward", "submit"))
    ok(act(team.reviewer, translation, "forward", "complete"))
    ok(act(team.translator, translation, "reconciliation", "start"))
    ok(act(team.translator, translation, "reconciliation", "submit"))
    ok(act(team.reviewer, translation, "reconciliation", "complete"))
    ok(act(team.translator, translation, "back_translation", "start"))
    assert write(team.translator, translation, "p1", "x").status_code == 422
    assert act(team.translator, translation, "back_translation", "submit").status_code == 422
    for key in ("p1", "p2", "p3"):
        ok(write(team.translator, translation, key, f"Back {key}", "back_translation"))
    ok(act(team.translator, translation, "back_translation", "submit"))
    current = reload(team.translator, translation)
    assert current["segments"][0]["back_translation"] == "Back p1"
    assert current["current_step"] == "back_translation"


def test_finished_questionnaire_translation_gives_instrument_labels(team, db_session):
    sync_shipped(db_session)
    db_session.commit()
    material = create_material(
        team.admin,
        kind="questionnaire",
        title="Everyday social inclusion scale",
        instrument_name="social_inclusion_scale",
        instrument_version="1",
        segments=None,
    )
    keys = [s["key"] for s in material["segments"]]
    # The English source is the instrument's own labels, keyed as the instruments domain
    # keys its label translations.
    assert keys[:2] == ["title", "description"]
    assert "fields.si_01.label" in keys and "fields.si_01.choices.3" in keys
    source_of = {s["key"]: s["text"] for s in material["segments"]}
    assert source_of["fields.si_01.label"] == (
        "I have people I can turn to when things are difficult."
    )
    translation = start(team, material)
    assert stored_labels(db_session, "lg") == {}
    label_events_before = len(_label_events(db_session))
    ok(act(team.translator, translation, "forward", "start"))
    for key in keys:
        ok(write(team.translator, translation, key, f"LG {key}"))
    ok(write(team.translator, translation, "fields.si_01.label", "Nnina abantu be nsobola"))
    ok(act(team.translator, translation, "forward", "submit"))
    ok(act(team.reviewer2, translation, "forward", "complete"))
    for action, who in (("start", team.reviewer), ("submit", team.reviewer)):
        ok(act(who, translation, "review", action))
    ok(act(team.reviewer2, translation, "review", "complete"))
    labels = stored_labels(db_session, "lg")
    assert labels["fields.si_01.label"] == "Nnina abantu be nsobola" and len(labels) == len(keys)
    # Labels every site's participants will read: each one is in the audit trail.
    label_events = _label_events(db_session)[label_events_before:]
    assert len(label_events) == len(keys)
    assert {e.action for e in label_events} == {"insert"}
    # ... and the instruments domain serves them (responses API and pages).
    served = ok(team.translator.get("/api/v1/instruments/social_inclusion_scale?lang=lg"))
    assert "Nnina abantu be nsobola" in str(served)
    assert stored_labels(db_session, "ar") == {}


def _label_events(db_session) -> list[AuditEvent]:
    return list(
        db_session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity == "instrument_label_translations")
            .order_by(AuditEvent.id)
        )
    )


def stored_labels(session, language: str) -> dict[str, str]:
    """The instruments domain's labels of social_inclusion_scale v1 in ``language``."""
    version = session.scalars(
        select(InstrumentVersion).where(
            InstrumentVersion.name == "social_inclusion_scale", InstrumentVersion.version == 1
        )
    ).one()
    return stored_translations(session, version.id).get(language, {})


def test_questionnaire_must_name_a_stored_instrument_version(team, db_session):
    sync_shipped(db_session)
    db_session.commit()
    for version, field, message in [
        ("1.0", "instrument_version", "whole numbers"),
        ("9", "instrument_name", "instruments sync"),
    ]:
        response = team.admin.post(
            "/api/v1/materials",
            json={
                "title": "Scale",
                "kind": "questionnaire",
                "category": "primary_measure",
                "instrument_name": "social_inclusion_scale",
                "instrument_version": version,
            },
        )
        assert response.status_code == 422
        assert message in response.json["errors"][field][0]


def test_hebrew_and_marathi_segments_round_trip(team, api_as):
    hebrew, marathi = "אתם מוזמנים להשתתף במחקר.", "तुम्हाला अभ्यासात सहभागी होण्यासाठी आमंत्रित केले आहे."
    material = create_material(team.admin)
    for site, language, text in [("BGU", "he", hebrew), ("PU", "mr", marathi)]:
        local = make_team(api_as, site)
        translation = start(local, material, site=site, language=language)
        ok(act(local.translator, translation, "forward", "start"))
        ok(write(local.translator, translation, "p1", text))
        assert reload(local.translator, translation)["segments"][0]["text"] == text


def test_material_validation(team):
    response = team.admin.post(
        "/api/v1/materials",
        json={
            "title": "Bad",
            "kind": "topic_guide",
            "category": "local_text",
            "instrument_name": "SIX",
            "segments": source(("a b", "x"), ("k", "y"), ("k", "z")),
        },
    )
    assert response.status_code == 422
    errors = response.json["errors"]
    assert len(errors["segments"]) == 2 and "instrument_version" in errors
    not_a_questionnaire = team.admin.post(
        "/api/v1/materials",
        json={
            "title": "Guide",
            "kind": "topic_guide",
            "category": "local_text",
            "instrument_name": "social_inclusion_scale",
            "instrument_version": "1",
            "segments": CONSENT,
        },
    )
    assert "Only questionnaires" in not_a_questionnaire.json["errors"]["instrument_name"][0]


def test_translation_workflows_setting_is_validated():
    parsed = _translation_workflows(
        "local_text=forward,review;study_generated=forward,review;"
        "secondary_measure=forward,review;primary_measure=forward,finalisation"
    )
    assert parsed["primary_measure"] == ("forward", "finalisation")
    for bad, message in [
        ("local_text=forward,review", "no workflow for study_generated"),
        ("local_text=review,forward", "first step must be forward"),
        ("local_text=forward,proofing", "unknown step"),
        ("local_text=forward,reconciliation", "needs a review"),
        ("poster=forward,review", "expected <category>="),
    ]:
        with pytest.raises(ValueError, match=message):
            _translation_workflows(bad)
    with pytest.raises(ConfigError, match="TRIALDM_TRANSLATION_WORKFLOWS"):
        load_settings({"TRIALDM_TRANSLATION_WORKFLOWS": "local_text=forward"})
