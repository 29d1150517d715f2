"""Items bound to the participant record (record_field): one value, the record's,
whichever way the questionnaire is shown or saved."""

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.seeders.instruments import sync_shipped
from tests.web_helpers import page_as
from trialdm.core.audit import AuditEvent
from trialdm.core.scoping import all_sites
from trialdm.instruments.definitions import (
    DefinitionError,
    load_definition_file,
    load_definition_folder,
)
from trialdm.instruments.models import InstrumentResponse, ResponseAnswer
from trialdm.participants.models import Participant

SHIPPED = Path(__file__).resolve().parents[1] / "instruments"
ANSWERS = {
    "living_situation": "family",
    "employment": "unemployed",
    "diagnoses": ["depression"],
    "years_since_first_contact": 3,
}


@pytest.fixture
def enrolled(db_session, make_participant):
    sync_shipped(db_session)
    db_session.commit()
    return make_participant(
        "BU",
        enrolment_date=date(2025, 1, 31),
        gender="male",
        marital_status="unmarried",
        diagnoses=[{"code": "F32"}],  # ANSWERS' "depression", derived from the record
    )


def checked(page: str, name: str) -> list[str]:
    """The values of the inputs named ``name`` that are checked or selected."""
    radios = re.findall(rf'name="{re.escape(name)}" value="([^"]*)" checked', page)
    select_ = re.search(rf'<select[^>]*name="{re.escape(name)}".*?</select>', page, re.S)
    options = re.findall(r'<option value="([^"]*)" selected', select_.group(0)) if select_ else []
    return radios + options


def text_value(page: str, name: str) -> str | None:
    found = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*value="([^"]*)"', page)
    return found.group(1) if found else None


def new_page(client, participant):
    url = (
        f"/questionnaires/new?participant_id={participant.id}"
        "&instrument=baseline_demographics&event=T0"
    )
    return url, client.get(url).get_data(as_text=True)


def form_data(participant, **answers):
    """The form as a person sends it: the pre-filled year of birth stays as it was."""
    data = {
        "collected_on": (date.today() - timedelta(days=1)).isoformat(),
        "a.year_of_birth": str(participant.year_of_birth),
    }
    for name, value in {**ANSWERS, **answers}.items():
        data["a." + name] = value
    return data


def record(db_session, participant) -> Participant:
    db_session.expire_all()
    with all_sites():
        return db_session.get(Participant, participant.id)


def post_baseline(api, participant, answers, **kwargs):
    """The baseline questionnaire at T0, collected on 1 Feb 2025, through the API."""
    return api.post(
        "/api/v1/responses",
        json={
            "participant_id": participant.id,
            "instrument": "baseline_demographics",
            "event": "T0",
            "collected_on": "2025-02-01",
            "answers": answers,
        },
        **kwargs,
    )


def test_the_shipped_baseline_binds_gender_year_of_birth_and_marital_status():
    definition = load_definition_file(SHIPPED / "baseline_demographics.toml")
    bound = {name: f.record_field for name, f in definition.bound_fields.items()}
    assert bound == {
        "gender": "gender",
        "year_of_birth": "year_of_birth",
        "marital_status": "marital_status",
        "diagnoses": "diagnoses",
        "diagnosis_other": "diagnoses",
    }
    assert [f.name for f in definition.fields if f.derived] == ["diagnoses", "diagnosis_other"]
    marital = definition.field("marital_status")
    assert marital.to_record("single") == "unmarried"
    assert marital.from_record("unmarried") == "single"


def test_the_new_page_is_filled_from_the_record(app, make_user, enrolled):
    client = page_as(app, make_user, "research_worker", ["BU"])
    _, page = new_page(client, enrolled)
    assert checked(page, "a.gender") == ["male"]
    assert text_value(page, "a.year_of_birth") == str(enrolled.year_of_birth)
    # the record's "unmarried" is the item's "single" (record_codes)
    assert checked(page, "a.marital_status") == ["single"]
    # the staff form says where the value lives (the self-report page does not)
    assert page.count('class="hint from-record"') == 5  # 3 bound, 2 derived


def test_saving_another_gender_on_the_page_changes_the_record_with_its_audit(
    app, make_user, enrolled, db_session
):
    client = page_as(app, make_user, "research_worker", ["BU"])
    url, _ = new_page(client, enrolled)
    saved = client.post(url, data=form_data(enrolled, gender="diverse", marital_status="married"))
    assert saved.status_code == 302, saved.get_data(as_text=True)[:2000]
    person = record(db_session, enrolled)
    assert person.gender == "diverse" and person.marital_status == "married"
    trail = db_session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity == "participants", AuditEvent.entity_id == str(enrolled.id)
        )
    ).all()
    change = trail[-1]
    assert change.changes["gender"] == ["male", "diverse"]
    assert change.changes["marital_status"] == ["unmarried", "married"]
    assert change.source == "page" and "baseline_demographics" in change.reason
    # no second copy in the response
    response = db_session.scalars(select(InstrumentResponse)).one()
    stored = {a.field for a in db_session.scalars(select(ResponseAnswer))}
    assert {"gender", "year_of_birth", "marital_status"}.isdisjoint(stored)
    assert "living_situation" in stored
    shown = client.get(f"/questionnaires/{response.id}").get_data(as_text=True)
    assert "Diverse" in shown


def test_the_record_edited_afterwards_shows_in_the_questionnaire(
    app, make_user, api_as, enrolled, db_session
):
    api = api_as("research_worker", ["BU"])
    created = post_baseline(api, enrolled, ANSWERS)
    assert created.status_code == 201, created.json
    # the API fills a bound item the request left out from the record
    assert created.json["answers"]["gender"] == "male"
    person = api.get(f"/api/v1/participants/{enrolled.id}")
    edited = api.patch(
        f"/api/v1/participants/{enrolled.id}",
        json={"gender": "female", "reason": "typing error"},
        headers={"If-Match": person.headers["ETag"]},
    )
    assert edited.status_code == 200, edited.json
    response_id = created.json["id"]
    assert api.get(f"/api/v1/responses/{response_id}").json["answers"]["gender"] == "female"
    client = page_as(app, make_user, "research_worker", ["BU"])
    form = client.get(f"/questionnaires/{response_id}/edit").get_data(as_text=True)
    assert checked(form, "a.gender") == ["female"]


def test_record_and_questionnaire_cannot_disagree_by_any_path(
    app, make_user, api_as, enrolled, db_session
):
    """Every way in (API create and change, page create and edit) leaves one value,
    the record's, read the same way by the API, the pages and the export."""
    api = api_as("research_worker", ["BU"])
    client = page_as(app, make_user, "research_worker", ["BU"])

    def agree() -> str:
        person = record(db_session, enrolled)
        response = db_session.scalars(select(InstrumentResponse)).one()
        by_api = api.get(f"/api/v1/responses/{response.id}").json["answers"]["gender"]
        form = client.get(f"/questionnaires/{response.id}/edit").get_data(as_text=True)
        assert by_api == person.gender
        assert checked(form, "a.gender") == [person.gender]
        return person.gender

    url, _ = new_page(client, enrolled)
    assert client.post(url, data=form_data(enrolled, gender="female")).status_code == 302
    assert agree() == "female"
    response = db_session.scalars(select(InstrumentResponse)).one()
    etag = api.get(f"/api/v1/responses/{response.id}").headers["ETag"]
    changed = api.patch(
        f"/api/v1/responses/{response.id}",
        json={"answers": {"gender": "diverse"}},
        headers={"If-Match": etag},
    )
    assert changed.status_code == 200, changed.json
    # the response's ETag moves with a bound answer too
    assert changed.headers["ETag"] != etag
    assert agree() == "diverse"
    db_session.expire_all()
    version = db_session.get(InstrumentResponse, response.id).version_id
    edit = client.post(
        f"/questionnaires/{response.id}/edit",
        data={**form_data(enrolled, gender="not_stated"), "version": str(version)},
    )
    assert edit.status_code == 302, edit.get_data(as_text=True)[:2000]
    assert agree() == "not_stated"


def test_a_value_the_record_refuses_is_a_field_error_and_nothing_is_saved(
    api_as, enrolled, db_session
):
    api = api_as("research_worker", ["BU"])
    refused = post_baseline(
        api,
        enrolled,
        # allowed by the item (1920-2015), but the participant would be too young
        # at enrolment for the trial: the record's own rule refuses it
        {**ANSWERS, "year_of_birth": 2014, "gender": "female"},
        headers={"Accept-Language": "de"},
    )
    assert refused.status_code == 422
    assert refused.mimetype == "application/problem+json"
    assert list(refused.json["errors"]["answers"]) == ["year_of_birth"]
    assert "Alter" in refused.json["errors"]["answers"]["year_of_birth"][0]
    person = record(db_session, enrolled)
    assert person.gender == "male"
    assert db_session.scalars(select(InstrumentResponse)).all() == []
    coded = api.post(
        "/api/v1/responses",
        json={
            "participant_id": enrolled.id,
            "instrument": "baseline_demographics",
            "event": "T0",
            "answers": {"gender": {"missing": "refused"}},
        },
    )
    assert coded.status_code == 422 and "gender" in coded.json["errors"]["answers"]


BOUND = """name = "{name}"
version = 1
title = "Bound"
[[fields]]
name = "sex"
type = "single_choice"
label = "Sex"
{binding}
choices = [
  {{ value = "f", label = "F" }},
  {{ value = "m", label = "M" }},
  {{ value = "d", label = "D" }},
  {{ value = "n", label = "N" }},
]
"""


@pytest.mark.parametrize(
    ("binding", "problem"),
    [
        ('record_field = "shoe_size"', "'shoe_size' is not a characteristic"),
        ('record_field = "gender"', "'f' is not a gender code of the record"),
        (
            'record_field = "gender"\nrecord_codes = { f = "female", m = "male", d = "female" }',
            "both stand for the record's 'female'",
        ),
        ('record_field = "year_of_birth"', "cannot hold it"),
        ('record_codes = { f = "female" }', "only with record_field"),
    ],
)
def test_a_bad_binding_is_refused_at_load_naming_file_and_item(tmp_path, binding, problem):
    (tmp_path / "bound.toml").write_text(BOUND.format(name="bound", binding=binding))
    with pytest.raises(DefinitionError) as refused:
        load_definition_folder(tmp_path)
    text = str(refused.value)
    assert "bound.toml: fields.sex." in text and problem in text, text


def test_a_good_mapping_loads(tmp_path):
    binding = (
        'record_field = "gender"\n'
        'record_codes = { f = "female", m = "male", d = "diverse", n = "not_stated" }'
    )
    (tmp_path / "bound.toml").write_text(BOUND.format(name="bound", binding=binding))
    (definition,) = load_definition_folder(tmp_path)
    assert definition.field("sex").from_record("not_stated") == "n"


def test_the_item_level_export_reads_bound_items_from_the_record(api_as, enrolled, db_session):
    from trialdm.exports.datasets import instrument_dataset

    api = api_as("research_worker", ["BU"])
    created = post_baseline(api, enrolled, ANSWERS)
    assert created.status_code == 201, created.json
    with all_sites():
        dataset = instrument_dataset(db_session, "baseline_demographics")
        names = [v.name for v in dataset.variables]
        (row,) = list(dataset.rows(db_session))
    cells = dict(zip(names, row, strict=True))
    assert cells["gender"] == "male" and cells["marital_status"] == "single"
    assert cells["year_of_birth"] == enrolled.year_of_birth


BOUND_RULES = """
[[rule]]
name = "baseline_gender_missing"
kind = "required"
value = "answer.baseline_demographics.T0.gender"
message = "Gender is missing at baseline."

[[rule]]
name = "baseline_born_by_1995"
kind = "range"
value = "answer.baseline_demographics.T0.year_of_birth"
max = 1995
message = "m"
"""


def rules_over_baselines(tmp_path, text: str, db_session, people, answers=None) -> tuple:
    """The rules of ``text``, after a T0 baseline questionnaire of each of ``people``
    (saved, not committed; read within ``all_sites()``)."""
    from trialdm.instruments.operations import create_response
    from trialdm.quality.checks import parse_rules

    path = tmp_path / "checks.toml"
    path.write_text(text)
    for person in people:
        create_response(
            db_session,
            {
                "participant_id": person.id,
                "instrument": "baseline_demographics",
                "event": "T0",
                "collected_on": person.enrolment_date,
                "answers": answers or {},
            },
        )
    db_session.flush()
    return parse_rules(path, {"T0", "T1", "T2", "T3"})


def test_quality_rules_read_a_bound_answer_from_the_record(
    tmp_path, enrolled, make_participant, db_session
):
    from trialdm.quality.runs import find_failures

    long_ago = make_participant(
        "BU", enrolment_date=date.today() - timedelta(days=200), year_of_birth=2000
    )
    with all_sites():
        required, born = rules_over_baselines(
            tmp_path, BOUND_RULES, db_session, (enrolled, long_ago)
        )
        # answered through the record: not missing
        assert find_failures(db_session, (required,)) == []
        (failure,) = find_failures(db_session, (born,))
        assert failure.participant_id == long_ago.id and failure.left == 2000


def test_a_table_file_reads_a_bound_characteristic_from_the_record_only():
    from tests.test_summaries_specfiles import problems

    found = dict(
        problems(
            """
name = "genders"
title = "x"
[population]
from = "participants"
[variables]
asked = { answer = "baseline_demographics.gender", event = "T0" }
[[rows]]
label = "Gender"
stat = "n_pct"
variable = "asked"
"""
        )
    )
    assert found["variables.asked.answer"] == (
        "baseline_demographics.gender is the participant record's gender; "
        'read it as { participant = "gender" }'
    )


def test_the_self_report_form_is_filled_from_the_record_and_saves_to_it(
    app, api_as, enrolled, db_session
):
    worker = api_as("research_worker", ["BU"])
    made = worker.post(
        "/api/v1/self-report-links",
        json={"participant_id": enrolled.id, "instrument": "baseline_demographics", "event": "T0"},
    )
    assert made.status_code == 201, made.json
    path = made.json["url"][made.json["url"].index("/r/") :]
    phone = app.test_client()
    page = phone.get(path).get_data(as_text=True)
    assert checked(page, "a.gender") == ["male"]
    assert "from-record" not in page
    sent = phone.post(path, data=form_data(enrolled, gender="female"))
    assert sent.status_code == 200, sent.get_data(as_text=True)[:2000]
    assert record(db_session, enrolled).gender == "female"


def test_a_version_that_did_not_bind_keeps_its_answer_in_every_reader(api_as, enrolled, db_session):
    """A stored version never changes: responses of a version without the binding
    keep their own answer (pages, API, export alike); those of a binding version read
    the record."""
    from trialdm.exports.datasets import instrument_dataset
    from trialdm.instruments.definitions import parse_definition
    from trialdm.instruments.operations import sync_instruments

    def mini(version: int, binding: dict) -> dict:
        choices = [{"value": v, "label": v} for v in ("female", "male", "diverse", "not_stated")]
        field = {"name": "gender", "type": "single_choice", "label": "G", "choices": choices}
        return {
            "name": "mini",
            "version": version,
            "title": "Mini",
            "fields": [{**field, **binding}],
        }

    sync_instruments(db_session, [parse_definition(mini(1, {}), "mini.toml")], {})
    sync_instruments(
        db_session, [parse_definition(mini(2, {"record_field": "gender"}), "mini.toml")], {}
    )
    db_session.commit()
    api = api_as("research_worker", ["BU"])
    ids = {}
    for version, answer in ((1, "diverse"), (2, "male")):
        made = api.post(
            "/api/v1/responses",
            json={
                "participant_id": enrolled.id,
                "instrument": "mini",
                "instrument_version": version,
                "answers": {"gender": answer},
            },
        )
        assert made.status_code == 201, made.json
        ids[version] = made.json["id"]
    assert api.get(f"/api/v1/responses/{ids[1]}").json["answers"]["gender"] == "diverse"
    assert api.get(f"/api/v1/responses/{ids[2]}").json["answers"]["gender"] == "male"
    with all_sites():
        dataset = instrument_dataset(db_session, "mini")
        names = [v.name for v in dataset.variables]
        rows = [dict(zip(names, row, strict=True)) for row in dataset.rows(db_session)]
    assert sorted((r["instrument_version"], r["gender"]) for r in rows) == [
        (1, "diverse"),
        (2, "male"),
    ]
