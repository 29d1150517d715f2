"""Diagnoses through the API, the CSV import (API and CLI) and the pages: codes at any
depth, the study's own words, "other" as the vocabulary allows, unknown values refused."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.web_helpers import page_as
from trialdm.participants.models import Participant, ParticipantDiagnosis

TEST_VOCABULARIES = Path(__file__).parent / "data" / "vocabularies"


def person(diagnoses, **extra):
    return {
        "site": "BU",
        "category": "service_user",
        "gender": "female",
        "year_of_birth": 1985,
        "diagnoses": diagnoses,
        **extra,
    }


def stored(db_session, participant_id: int) -> list[tuple[str, str | None]]:
    rows = db_session.execute(
        select(ParticipantDiagnosis.code, ParticipantDiagnosis.text)
        .where(ParticipantDiagnosis.participant_id == participant_id)
        .order_by(ParticipantDiagnosis.position)
    )
    return [tuple(row) for row in rows]


def count(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(Participant))


@pytest.fixture
def study_words(app, monkeypatch):
    """Diagnoses in the Shanghai study's own words (shipped vocabulary)."""
    monkeypatch.setitem(app.config, "DIAGNOSIS_VOCABULARY", "shanghai_daycare")


def test_four_character_codes_are_stored_whole_and_stay_distinct(api_as, db_session):
    api = api_as("research_worker", ["BU"])
    response = api.post("/api/v1/participants", json=person(["F41.1", "F41.0", "F43.1", "F41"]))
    assert response.status_code == 201, response.json
    assert response.json["diagnoses"] == [
        {"code": "F41.1", "label": "Generalized anxiety disorder", "text": None},
        {"code": "F41.0", "label": "Panic disorder [episodic paroxysmal anxiety]", "text": None},
        {"code": "F43.1", "label": "Post-traumatic stress disorder", "text": None},
        {"code": "F41", "label": "Other anxiety disorders", "text": None},
    ]
    assert stored(db_session, response.json["id"]) == [
        ("F41.1", None),
        ("F41.0", None),
        ("F43.1", None),
        ("F41", None),
    ]


def test_labels_and_synonyms_are_accepted_whatever_the_case_and_spacing(api_as, db_session):
    api = api_as("research_worker", ["BU"])
    response = api.post(
        "/api/v1/participants",
        json=person(
            [
                "  generalized   ANXIETY disorder ",
                "ptsd",
                {"code": "f20", "text": None},
                {"code": "Depression", "text": "since 2019"},
            ]
        ),
    )
    assert response.status_code == 201, response.json
    assert stored(db_session, response.json["id"]) == [
        ("F41.1", None),
        ("F43.1", None),
        ("F20", None),
        ("F32", "since 2019"),
    ]


def test_unknown_values_are_refused_item_by_item_and_nothing_is_saved(api_as, db_session):
    api = api_as("research_worker", ["BU"])
    before = count(db_session)
    response = api.post(
        "/api/v1/participants",
        json=person(["F41.1", "Anxiety-ish", "F41.7", "Generalized anxiety disorder"]),
    )
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.json["errors"]["diagnoses"] == [
        "Item 2: 'Anxiety-ish' is not a code, label or synonym of the diagnosis vocabulary "
        "'icd10_f'.",
        "Item 3: 'F41.7' is not a code, label or synonym of the diagnosis vocabulary 'icd10_f'.",
        "Item 4: 'Generalized anxiety disorder' is listed twice (as F41.1).",
    ]
    assert count(db_session) == before
    too_long = api.post("/api/v1/participants", json=person([{"code": "other", "text": "x" * 201}]))
    assert too_long.status_code == 422
    assert "longer than 200" in str(too_long.json["errors"]["diagnoses"])


def test_other_needs_a_description_only_where_the_vocabulary_says_so(
    api_as, db_session, app, monkeypatch
):
    api = api_as("research_worker", ["BU"])
    refused = api.post("/api/v1/participants", json=person(["other"]))
    assert refused.json["errors"]["diagnoses"] == [
        "Item 1: describe the 'other' diagnosis in 'text'."
    ]
    monkeypatch.setitem(app.config, "DIAGNOSIS_VOCABULARY", "shanghai_daycare")
    accepted = api.post("/api/v1/participants", json=person(["Other"]))
    assert accepted.status_code == 201, accepted.json
    assert accepted.json["diagnoses"] == [{"code": "other", "label": "Other", "text": None}]
    monkeypatch.setitem(
        app.config, "DIAGNOSIS_VOCABULARY", str(TEST_VOCABULARIES / "icd11_mental.toml")
    )
    closed = api.post("/api/v1/participants", json=person([{"code": "other", "text": "hoarding"}]))
    assert closed.json["errors"]["diagnoses"] == [
        "Item 1: 'other' is not allowed by 'icd11_mental'."
    ]


def test_a_studys_own_words_are_stored_as_its_codes(api_as, db_session, study_words):
    api = api_as("research_worker", ["BU"])
    response = api.post(
        "/api/v1/participants",
        json=person(["Bipolar disorder combined with physical disorders", "schizophrenia", "OCD"]),
    )
    assert response.status_code == 201, response.json
    assert [(d["code"], d["label"]) for d in response.json["diagnoses"]] == [
        ("bipolar_physical", "Bipolar disorder combined with physical disorders"),
        ("schizophrenia", "Schizophrenia"),
        ("ocd", "Obsessive-compulsive disorder"),
    ]
    refused = api.post("/api/v1/participants", json=person(["F31"]))
    assert "'F31' is not a code, label or synonym" in refused.json["errors"]["diagnoses"][0]


def test_icd11_codes_and_labels(api_as, db_session, app, monkeypatch):
    monkeypatch.setitem(
        app.config, "DIAGNOSIS_VOCABULARY", str(TEST_VOCABULARIES / "icd11_mental.toml")
    )
    api = api_as("research_worker", ["BU"])
    response = api.post(
        "/api/v1/participants", json=person(["6A20.0", "Generalized anxiety disorder"])
    )
    assert response.status_code == 201, response.json
    assert [(d["code"], d["label"]) for d in response.json["diagnoses"]] == [
        ("6A20.0", "Schizophrenia, first episode"),
        ("6B00", "Generalised anxiety disorder"),
    ]


def test_changing_diagnoses_resolves_words_and_other_fields_keep_old_codes(
    api_as, db_session, app, monkeypatch
):
    api = api_as("research_worker", ["BU"])
    created = api.post("/api/v1/participants", json=person(["F41.1"]))
    pid = created.json["id"]
    changed = api.patch(
        f"/api/v1/participants/{pid}",
        json={"diagnoses": ["Panic disorder [episodic paroxysmal anxiety]"], "reason": "recoded"},
        headers={"If-Match": created.headers["ETag"]},
    )
    assert changed.status_code == 200, changed.json
    assert stored(db_session, pid) == [("F41.0", None)]
    # under another vocabulary, a change elsewhere keeps the recorded codes untouched
    monkeypatch.setitem(app.config, "DIAGNOSIS_VOCABULARY", "shanghai_daycare")
    other_field = api.patch(
        f"/api/v1/participants/{pid}",
        json={"occupation": "baker", "reason": "typo"},
        headers={"If-Match": changed.headers["ETag"]},
    )
    assert other_field.status_code == 200, other_field.json
    assert stored(db_session, pid) == [("F41.0", None)]
    assert other_field.json["diagnoses"][0]["label"] == "F41.0"
    # a recorded code may stay in a changed list; a new one must be of the vocabulary in use
    added = api.patch(
        f"/api/v1/participants/{pid}",
        json={"diagnoses": ["F41.0", "OCD"], "reason": "second diagnosis"},
        headers={"If-Match": other_field.headers["ETag"]},
    )
    assert added.status_code == 200, added.json
    assert stored(db_session, pid) == [("F41.0", None), ("ocd", None)]
    refused = api.patch(
        f"/api/v1/participants/{pid}",
        json={"diagnoses": ["F41.1"], "reason": "recoded"},
        headers={"If-Match": added.headers["ETag"]},
    )
    assert refused.status_code == 422
    assert "'F41.1' is not a code, label or synonym" in refused.json["errors"]["diagnoses"][0]


def test_the_edit_page_keeps_codes_of_an_earlier_vocabulary(
    app, make_user, make_participant, db_session, monkeypatch
):
    participant = make_participant("BU", diagnoses=[{"code": "F41.0", "text": None}])
    monkeypatch.setitem(app.config, "DIAGNOSIS_VOCABULARY", "shanghai_daycare")
    client = page_as(app, make_user, "site_lead", ["BU"])
    form = client.get(f"/participants/{participant.id}/edit").get_data(as_text=True)
    assert (
        '<input type="checkbox" name="diagnoses" value="F41.0" checked> '
        "<bdi>F41.0 (not in the vocabulary)</bdi>" in form
    )
    saved = client.post(
        f"/participants/{participant.id}/edit",
        data={
            "version": str(participant.version_id),
            "gender": participant.gender,
            "year_of_birth": str(participant.year_of_birth),
            "diagnoses": ["F41.0"],
            "occupation": "baker",
            "reason": "occupation added",
        },
    )
    assert saved.status_code == 302, saved.get_data(as_text=True)
    assert stored(db_session, participant.id) == [("F41.0", None)]


IMPORT = """category,gender,year_of_birth,diagnoses
service_user,female,1980,F41.1; Post-traumatic stress disorder
service_user,male,1990,Mental and behavioural disorders due to use of alcohol : harmful use
service_user,male,1985,other: hearing voices; ptsd
"""

IMPORT_BAD = """category,gender,year_of_birth,diagnoses
service_user,female,1980,F41.1
service_user,male,1990,F41.1;Nerves
"""


def upload(api, text: str):
    return api.client.post(
        "/api/v1/participants/import",
        data={"site": "BU", "file": (io.BytesIO(text.encode()), "p.csv")},
        headers={"Authorization": f"Bearer {api.token}"},
        content_type="multipart/form-data",
    )


def test_csv_import_accepts_codes_labels_and_synonyms(api_as, db_session):
    response = upload(api_as("site_lead", ["BU"]), IMPORT)
    assert response.status_code == 201, response.json
    rows = db_session.scalars(select(Participant).order_by(Participant.id)).all()[-3:]
    assert [[(d.code, d.text) for d in p.diagnoses] for p in rows] == [
        [("F41.1", None), ("F43.1", None)],
        [("F10.1", None)],
        [("other", "hearing voices"), ("F43.1", None)],
    ]


def test_csv_import_refuses_unknown_words_with_line_and_field(api_as, db_session):
    before = count(db_session)
    response = upload(api_as("site_lead", ["BU"]), IMPORT_BAD)
    assert response.status_code == 422
    assert response.json["errors"] == {
        "line 3": [
            "diagnoses: Item 2: 'Nerves' is not a code, label or synonym of the diagnosis "
            "vocabulary 'icd10_f'."
        ]
    }
    assert count(db_session) == before


def test_cli_import_takes_the_studys_words(app, db_session, tmp_path, study_words):
    path = tmp_path / "shanghai.csv"
    path.write_text(
        "category,gender,age,diagnoses\n"
        "service_user,male,43,Schizophrenia\n"
        "service_user,female,44,Bipolar disorder combined with physical disorders\n"
        "service_user,male,53,other\n",
        encoding="utf-8",
    )
    result = app.test_cli_runner().invoke(
        args=["import", "participants", str(path), "--site", "BU"]
    )
    assert result.exit_code == 0, result.output
    rows = db_session.scalars(select(Participant).order_by(Participant.id)).all()[-3:]
    assert [[d.code for d in p.diagnoses] for p in rows] == [
        ["schizophrenia"],
        ["bipolar_physical"],
        ["other"],
    ]
    path.write_text("category,gender,age,diagnoses\nservice_user,male,43,Psychosis\n")
    refused = app.test_cli_runner().invoke(
        args=["import", "participants", str(path), "--site", "BU"]
    )
    assert refused.exit_code == 1
    assert "line 2" in refused.output and "'Psychosis' is not a code, label or synonym" in (
        refused.output
    )


def test_the_participant_page_offers_four_characters_and_takes_typed_words(
    app, make_user, db_session
):
    client = page_as(app, make_user, "research_worker", ["BU"])
    form = client.get("/participants/new?category=service_user").get_data(as_text=True)
    assert (
        '<input type="checkbox" name="diagnoses" value="F41.1"> '
        "<bdi>F41.1 · Generalized anxiety disorder</bdi>" in form
    )
    assert 'name="diagnosis_words"' in form
    data = {
        "category": "service_user",
        "site": "BU",
        "gender": "male",
        "year_of_birth": "1979",
        "diagnoses": ["F41.1"],
        "diagnosis_words": "PTSD; Nerves",
    }
    refused = client.post("/participants/new", data=data)
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert 'id="error-diagnoses"' in page and "&#39;Nerves&#39; is not a code" in page
    assert 'value="PTSD; Nerves"' in page
    assert db_session.query(Participant).count() == 0
    created = client.post("/participants/new", data={**data, "diagnosis_words": "PTSD; f32.1"})
    assert created.status_code == 302
    participant = db_session.query(Participant).one()
    assert [d.code for d in participant.diagnoses] == ["F41.1", "F43.1", "F32.1"]


def test_the_page_in_a_studys_words_allows_other_without_description(
    app, make_user, db_session, study_words
):
    client = page_as(app, make_user, "research_worker", ["BU"])
    form = client.get("/participants/new?category=service_user").get_data(as_text=True)
    assert (
        '<input type="checkbox" name="diagnoses" value="bipolar_physical"> '
        "<bdi>Bipolar disorder combined with physical" in form
    )
    created = client.post(
        "/participants/new",
        data={
            "category": "service_user",
            "site": "BU",
            "gender": "female",
            "age": "47",
            "diagnoses": ["ocd", "other"],
        },
    )
    assert created.status_code == 302, created.get_data(as_text=True)
    participant = db_session.query(Participant).one()
    assert [(d.code, d.text) for d in participant.diagnoses] == [("ocd", None), ("other", None)]


def test_api_clients_can_read_the_vocabulary_in_use(api_as, app, monkeypatch):
    api = api_as("research_worker", ["BU"])
    response = api.get("/api/v1/participants/diagnosis-vocabulary")
    assert response.status_code == 200
    body = response.json
    assert (body["name"], body["system"], body["other"]["requires_text"]) == (
        "icd10_f",
        "icd10",
        True,
    )
    codes = [entry["code"] for entry in body["entries"]]
    assert codes.index("F41") < codes.index("F41.0") < codes.index("F41.1") < codes.index("F42")
    assert {"codes": "F40-F48", "label": "Neurotic, stress-related and somatoform disorders"} in (
        body["groups"]
    )
    monkeypatch.setitem(app.config, "DIAGNOSIS_VOCABULARY", "shanghai_daycare")
    words = api.get("/api/v1/participants/diagnosis-vocabulary").json
    assert words["entries"][4] == {
        "code": "ocd",
        "label": "Obsessive-compulsive disorder",
        "labels": {"zh": "强迫症"},
        "synonyms": ["OCD", "Obsessive compulsive disorder"],
        "maps_to": "F42",
    }
    assert words["other"] == {"allowed": True, "requires_text": False, "label": "Other"}
