"""Items derived read-only from the participant record (record_field = "diagnoses"
with record_groups): shown from the record, never written to it, a differing answer
refused, nothing stored in the response."""

from datetime import date

import pytest
from sqlalchemy import select

from tests.seeders.instruments import sync_shipped
from tests.web_helpers import page_as
from trialdm.core.scoping import all_sites
from trialdm.instruments.definitions import DefinitionError, load_definition_folder
from trialdm.instruments.models import InstrumentResponse, ResponseAnswer
from trialdm.participants.models import Participant

OTHER_ANSWERS = {
    "living_situation": "family",
    "employment": "unemployed",
    "years_since_first_contact": 3,
}


@pytest.fixture
def enrolled(db_session, make_participant):
    sync_shipped(db_session)
    db_session.commit()
    return make_participant(
        "BU",
        enrolment_date=date(2025, 1, 31),
        diagnoses=[{"code": "F20.1"}, {"code": "F32"}],
    )


def create(api, participant, answers, **kwargs):
    return api.post(
        "/api/v1/responses",
        json={
            "participant_id": participant.id,
            "instrument": "baseline_demographics",
            "event": "T0",
            "collected_on": "2025-02-01",
            "answers": {**OTHER_ANSWERS, **answers},
        },
        **kwargs,
    )


def stored_fields(db_session) -> set[str]:
    return {a.field for a in db_session.scalars(select(ResponseAnswer))}


def test_the_questionnaire_shows_the_record_diagnoses_as_groups(app, make_user, api_as, enrolled):
    client = page_as(app, make_user, "research_worker", ["BU"])
    page = client.get(
        f"/questionnaires/new?participant_id={enrolled.id}"
        "&instrument=baseline_demographics&event=T0"
    ).get_data(as_text=True)
    checked = [
        value
        for value in ("psychosis", "bipolar", "depression", "other")
        if f'name="a.diagnoses" value="{value}" checked disabled' in page
    ]
    assert checked == ["psychosis", "depression"]
    assert f'href="/participants/{enrolled.id}/edit"' in page
    created = create(api_as("research_worker", ["BU"]), enrolled, {})
    assert created.status_code == 201, created.json
    assert created.json["answers"]["diagnoses"] == ["psychosis", "depression"]
    assert created.json["answers"].get("diagnosis_other") is None


def test_a_differing_answer_is_refused_in_german_and_nothing_saved(api_as, enrolled, db_session):
    api = api_as("research_worker", ["BU"])
    refused = create(api, enrolled, {"diagnoses": ["bipolar"]}, headers={"Accept-Language": "de"})
    assert refused.status_code == 422, refused.json
    assert refused.mimetype == "application/problem+json"
    assert refused.json["errors"]["answers"]["diagnoses"] == [
        "Diagnosen werden in den Stammdaten der teilnehmenden Person geführt; bitte dort ändern."
    ]
    db_session.expire_all()
    assert db_session.scalars(select(InstrumentResponse)).all() == []
    with all_sites():
        codes = [d.code for d in db_session.get(Participant, enrolled.id).diagnoses]
    assert codes == ["F20.1", "F32"]


def test_an_equal_answer_is_accepted_and_not_stored(api_as, enrolled, db_session):
    api = api_as("research_worker", ["BU"])
    created = create(api, enrolled, {"diagnoses": ["depression", "psychosis"]})
    assert created.status_code == 201, created.json
    stored = stored_fields(db_session)
    assert "living_situation" in stored
    assert {"diagnoses", "diagnosis_other"}.isdisjoint(stored)


def test_the_record_edited_later_shows_in_the_questionnaire(api_as, enrolled):
    api = api_as("research_worker", ["BU"])
    created = create(api, enrolled, {})
    assert created.status_code == 201, created.json
    person = api.get(f"/api/v1/participants/{enrolled.id}")
    edited = api.patch(
        f"/api/v1/participants/{enrolled.id}",
        json={
            "diagnoses": [{"code": "F31.2"}, {"code": "F90.0", "text": "ADHD"}],
            "reason": "diagnosis revised",
        },
        headers={"If-Match": person.headers["ETag"]},
    )
    assert edited.status_code == 200, edited.json
    answers = api.get(f"/api/v1/responses/{created.json['id']}").json["answers"]
    assert answers["diagnoses"] == ["bipolar", "other"]
    assert answers["diagnosis_other"] == "ADHD"


FILE = """
name = "{name}"
version = 1
title = "Derived"
[[fields]]
name = "dx"
type = "multiple_choice"
label = "Diagnoses"
record_field = "diagnoses"
{groups}
choices = [
  {{ value = "psychosis", label = "P" }},
  {{ value = "mood", label = "M" }},
  {{ value = "other", label = "O" }},
]
"""


@pytest.mark.parametrize(
    ("groups", "problem"),
    [
        ('record_groups = { psychosis = "F29-F20", mood = "F30-F39", other = "*" }', "'F29-F20'"),
        ('record_groups = { psychosis = "F2x", mood = "F30-F39", other = "*" }', "'F2X'"),
        ('record_groups = { psychosis = "F20-F29", mood = "*", other = "*" }', "exactly one"),
        ('record_groups = { psychosis = "F20-F29", mood = "F30-F39" }', "exactly one"),
        ('record_groups = { psychosis = "F20-F29", other = "*" }', "'mood' are not mapped"),
        ("", "record_groups: required"),
        (
            "required = true\n"
            'record_groups = { psychosis = "F20-F29", mood = "F30-F39", other = "*" }',
            "can require it",
        ),
    ],
)
def test_bad_record_groups_are_refused_at_load(tmp_path, groups, problem):
    (tmp_path / "derived.toml").write_text(FILE.format(name="derived", groups=groups))
    with pytest.raises(DefinitionError) as refused:
        load_definition_folder(tmp_path)
    text = str(refused.value)
    assert "derived.toml: fields.dx." in text and problem in text, text


def test_the_item_level_export_reads_the_derived_groups_from_the_record(
    api_as, enrolled, db_session
):
    from trialdm.exports.datasets import instrument_dataset

    created = create(api_as("research_worker", ["BU"]), enrolled, {})
    assert created.status_code == 201, created.json
    with all_sites():
        dataset = instrument_dataset(db_session, "baseline_demographics")
        names = [v.name for v in dataset.variables]
        (row,) = [dict(zip(names, r, strict=True)) for r in dataset.rows(db_session)]
    ticked = {n.split("___")[1]: row[n] for n in names if n.startswith("diagnoses___")}
    assert ticked["psychosis"] == 1 and ticked["depression"] == 1
    assert ticked["bipolar"] == 0 and ticked["other"] == 0


def test_the_staff_form_saves_without_the_read_only_diagnoses(app, make_user, enrolled, db_session):
    client = page_as(app, make_user, "research_worker", ["BU"])
    url = (
        f"/questionnaires/new?participant_id={enrolled.id}"
        "&instrument=baseline_demographics&event=T0"
    )
    # disabled checkboxes are not sent: the form holds the other answers only
    data = {
        "collected_on": "2025-02-01",
        "a.gender": "female",
        "a.year_of_birth": str(enrolled.year_of_birth),
        "a.marital_status": "single",
        **{f"a.{k}": str(v) for k, v in OTHER_ANSWERS.items()},
    }
    saved = client.post(url, data=data)
    assert saved.status_code == 302, saved.get_data(as_text=True)[:2000]
    assert {"diagnoses", "diagnosis_other"}.isdisjoint(stored_fields(db_session))
    response = db_session.scalars(select(InstrumentResponse)).one()
    shown = client.get(f"/questionnaires/{response.id}").get_data(as_text=True)
    assert "Schizophrenia or other psychosis (F20-F29)" in shown


def test_the_item_level_export_reads_the_other_diagnoses_from_the_record(
    api_as, db_session, make_participant
):
    from trialdm.exports.datasets import instrument_dataset

    sync_shipped(db_session)
    db_session.commit()
    person = make_participant(
        "BU",
        enrolment_date=date(2025, 1, 31),
        # the record's order, words as written (else the code); F20.1 is not "other"
        diagnoses=[{"code": "F90.0", "text": "ADHD"}, {"code": "F20.1"}, {"code": "F84.0"}],
    )
    created = create(api_as("research_worker", ["BU"]), person, {})
    assert created.status_code == 201, created.json
    assert created.json["answers"]["diagnosis_other"] == "ADHD; F84.0"
    with all_sites():
        dataset = instrument_dataset(db_session, "baseline_demographics")
        names = [v.name for v in dataset.variables]
        (row,) = [dict(zip(names, r, strict=True)) for r in dataset.rows(db_session)]
    assert row["diagnosis_other"] == "ADHD; F84.0"
    assert row["diagnoses___other"] == 1 and row["diagnoses___psychosis"] == 1


DERIVED_RULES = """
[[rule]]
name = "baseline_diagnosis_missing"
kind = "required"
value = "answer.baseline_demographics.T0.diagnoses"
message = "No diagnosis at baseline."

[[rule]]
name = "baseline_other_diagnosis_missing"
kind = "required"
value = "answer.baseline_demographics.T0.diagnosis_other"
message = "m"
"""


def test_quality_rules_read_derived_items_from_the_record(
    tmp_path, enrolled, make_participant, db_session
):
    from tests.test_record_bound_items import rules_over_baselines
    from trialdm.quality.runs import find_failures

    undiagnosed = make_participant("BU", enrolment_date=date(2025, 1, 31), diagnoses=[])
    adhd = make_participant(
        "BU", enrolment_date=date(2025, 1, 31), diagnoses=[{"code": "F90.0", "text": "ADHD"}]
    )
    with all_sites():
        required, other = rules_over_baselines(
            tmp_path, DERIVED_RULES, db_session, (enrolled, undiagnosed, adhd), OTHER_ANSWERS
        )
        # the answer is the record's: missing only where the record holds no diagnosis
        assert [f.participant_id for f in find_failures(db_session, (required,))] == [
            undiagnosed.id
        ]
        without_other = {f.participant_id for f in find_failures(db_session, (other,))}
    assert without_other == {enrolled.id, undiagnosed.id}  # ADHD falls into "other"
