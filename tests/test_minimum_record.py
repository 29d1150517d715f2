"""The minimum record (quality/minimum_record.toml): declared as data, validated at
start, enforced the same way by the API, the pages and the CSV import."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from tests.conftest import build_app
from tests.web_helpers import page_as
from trialdm.core.audit import AuditEvent
from trialdm.participants.minimum_record import (
    MinimumRecordFileError,
    parse_minimum_record,
)
from trialdm.participants.models import Participant

CREATION = "Required when the record is created."
ENROLMENT = "Required for an enrolled participant."
AGE_OR_YEAR = "Required when the record is created: give one of year_of_birth, age."


def participants(session) -> int:
    return session.scalar(select(func.count()).select_from(Participant))


def participant_audit(session) -> int:
    return session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.entity == "participants")
    )


# --- the declaration -----------------------------------------------------------------


def write(tmp_path, text: str):
    path = tmp_path / "minimum_record.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ('[patient]\non_creation = ["gender"]\n', "patient", "unknown category"),
        ('[psw]\non_create = ["gender"]\n', "psw.on_create", "unknown key"),
        ('[psw]\non_creation = ["gender", "shoe_size"]\n', "psw.on_creation[2]", "shoe_size"),
        (
            '[mhw]\non_creation = ["training_completed"]\n',
            "mhw.on_creation[1]",
            "not a field of mhw participants",
        ),
        ('[psw]\non_enrolment = ["gender"]\n', "psw.on_enrolment", "only service users"),
        ('[service_user]\non_creation = ["arm"]\n', "service_user.on_creation[1]", "not given"),
        ("[service_user]\non_creation = [[]]\n", "service_user.on_creation[1]", "non-empty"),
        ('[service_user]\non_creation = "gender"\n', "service_user.on_creation", "a list"),
        (
            '[service_user]\non_creation = ["gender", "gender"]\n',
            "service_user.on_creation[2]",
            "listed twice",
        ),
        (
            '[service_user]\non_creation = ["gender"]\non_enrolment = ["gender"]\n',
            "service_user.on_enrolment[1]",
            "listed twice",
        ),
        (
            '[service_user]\non_creation = ["age"]\non_enrolment = ["year_of_birth"]\n',
            "service_user",
            "cannot both be required",
        ),
        ("[service_user\n", "(file)", "not valid TOML"),
    ],
)
def test_a_bad_declaration_names_file_key_and_problem(tmp_path, text, key, problem):
    path = write(tmp_path, text)
    with pytest.raises(MinimumRecordFileError) as failed:
        parse_minimum_record(path)
    message = str(failed.value)
    assert message.startswith(f"{path}: {key}: "), message
    assert problem in message


def test_the_shipped_declaration_is_valid_and_asks_what_the_trial_needs():
    from trialdm.config import PROJECT_ROOT

    record = parse_minimum_record(PROJECT_ROOT / "quality" / "minimum_record.toml")
    assert set(record) == {"service_user", "psw", "mhw"}
    service_user = record["service_user"]
    assert [r.fields for r in service_user.on_creation] == [("gender",), ("year_of_birth", "age")]
    assert [r.fields for r in service_user.on_enrolment] == [
        ("consent_date",),
        ("consent_version",),
        ("arm",),
    ]


def test_an_app_with_a_bad_declaration_does_not_start(tmp_path):
    quality = tmp_path / "quality"
    quality.mkdir()
    (quality / "minimum_record.toml").write_text('[psw]\non_creation = ["shoe_size"]\n')
    with pytest.raises(MinimumRecordFileError, match=r"psw\.on_creation\[1\]: unknown field"):
        build_app(tmp_path, "badquality", QUALITY_DIR=str(quality))


def test_the_folder_is_a_setting_and_its_declaration_is_used(tmp_path):
    quality = tmp_path / "quality"
    quality.mkdir()
    (quality / "minimum_record.toml").write_text('[mhw]\non_creation = ["gender", "profession"]\n')
    app = build_app(tmp_path, "ownquality", QUALITY_DIR=str(quality))
    from trialdm.participants.minimum_record import missing_fields

    with app.app_context():
        assert missing_fields("mhw", {"gender": "male"}) == {"profession": [CREATION]}
        # a category the file does not name needs nothing
        assert missing_fields("psw", {}) == {}
    with app.app_context():
        from trialdm.extensions import db

        db.engine.dispose()


# --- the API ---------------------------------------------------------------------------


def test_an_empty_body_lists_every_missing_field_and_creates_nothing(api_as, db_session):
    api = api_as("research_worker", ["BU"])
    response = api.post("/api/v1/participants", json={})
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    errors = response.json["errors"]
    assert set(errors) == {"site", "category", "gender", "year_of_birth", "age"}
    assert errors["gender"] == [CREATION]
    assert errors["year_of_birth"] == [AGE_OR_YEAR]
    assert participants(db_session) == 0
    assert participant_audit(db_session) == 0


def test_an_empty_service_user_lists_its_creation_fields(api_as, db_session):
    api = api_as("research_worker", ["BU"])
    response = api.post("/api/v1/participants", json={"site": "BU", "category": "service_user"})
    assert response.status_code == 422
    assert response.json["errors"] == {
        "gender": [CREATION],
        "year_of_birth": [AGE_OR_YEAR],
        "age": ["Required when the record is created: give one of year_of_birth, age."],
    }
    assert participants(db_session) == 0
    assert participant_audit(db_session) == 0


def test_missing_fields_are_reported_with_other_field_errors(api_as, db_session):
    api = api_as("research_worker", ["BU"])
    response = api.post(
        "/api/v1/participants",
        json={"site": "BU", "category": "psw", "age": "old", "occupation": 7},
    )
    errors = response.json["errors"]
    # a value that failed its own check is not called missing as well
    assert set(errors) == {"age", "occupation", "gender"}
    assert errors["gender"] == [CREATION]
    assert CREATION not in str(errors["age"])
    assert participants(db_session) == 0


def test_enrolment_needs_consent_and_arm(api_as, db_session):
    api = api_as("research_worker", ["BU"])
    base = {"site": "BU", "category": "service_user", "gender": "male", "year_of_birth": 1990}
    enrolling = api.post("/api/v1/participants", json={**base, "enrolment_date": "2025-03-01"})
    assert enrolling.status_code == 422
    assert enrolling.json["errors"] == {
        "consent_date": [ENROLMENT],
        "consent_version": [ENROLMENT],
        "arm": [ENROLMENT],
    }
    # not enrolled yet: the creation fields are enough
    screened = api.post("/api/v1/participants", json=base)
    assert screened.status_code == 201, screened.json
    # enrolling it later asks for the same fields, all at once
    url = f"/api/v1/participants/{screened.json['id']}"
    headers = {"If-Match": screened.headers["ETag"]}
    later = api.patch(
        url, json={"enrolment_date": "2025-03-01", "reason": "enrolled"}, headers=headers
    )
    assert later.status_code == 422
    assert set(later.json["errors"]) == {"consent_date", "consent_version", "arm"}
    done = api.patch(
        url,
        json={
            "enrolment_date": "2025-03-01",
            "consent_date": "2025-02-27",
            "consent_version": "2.1",
            "arm": "control",
            "reason": "enrolled",
        },
        headers=headers,
    )
    assert done.status_code == 200, done.json
    assert done.json["status"] == "enrolled"


def test_a_change_cannot_empty_a_required_field(api_as, make_participant):
    participant = make_participant("BU", "mhw", gender="male", age=44)
    api = api_as("research_worker", ["BU"])
    response = api.patch(
        f"/api/v1/participants/{participant.id}",
        json={"gender": None, "age": None, "reason": "unknown"},
        headers={"If-Match": f'"{participant.version_id}"'},
    )
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"gender", "year_of_birth", "age"}


def test_psw_collection_keeps_the_same_minimum(api_as, db_session):
    api = api_as("research_worker", ["BU"])
    response = api.post("/api/v1/psws", json={"site": "BU", "training_completed": "2025-01-01"})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"gender", "year_of_birth", "age"}
    assert participants(db_session) == 0


# --- the pages -------------------------------------------------------------------------


def test_the_empty_form_creates_nothing_and_marks_every_missing_field(app, make_user, db_session):
    client = page_as(app, make_user, "research_worker", ["BU"])
    form = client.get("/participants/new?category=service_user").get_data(as_text=True)
    # marked from the declaration: gender always (HTML required), age or year (one of)
    assert 'name="gender" required' in form
    assert 'name="year_of_birth" type="text" value=""' in form
    assert 'name="year_of_birth" type="text" value="" required' not in form
    assert "Fields marked † are required once the enrolment date is given." in form
    response = client.post(
        "/participants/new", data={"category": "service_user", "site": "BU", "gender": ""}
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for field in ("gender", "year_of_birth", "age"):
        assert f'id="error-{field}"' in page
    assert CREATION in page
    assert "Required when the record is created: give one of Year of birth, Age." in page
    assert participants(db_session) == 0
    assert participant_audit(db_session) == 0


@pytest.mark.parametrize(
    ("language", "creation", "one_of"),
    [
        (
            "de",
            "Beim Anlegen erforderlich.",
            "Beim Anlegen erforderlich – eine Angabe aus: Geburtsjahr, Alter.",
        ),
        (
            "he",
            "שדה חובה ביצירת הרשומה.",
            "שדה חובה ביצירת הרשומה: יש למלא אחד מאלה: שנת לידה, גיל.",
        ),
    ],
)
def test_the_empty_form_speaks_the_users_language(
    app, make_user, db_session, language, creation, one_of
):
    client = page_as(app, make_user, "research_worker", ["BU"])
    client.post("/language", data={"language": language, "next": "/"})
    response = client.post("/participants/new", data={"category": "psw", "site": "BU"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert page.count(creation) >= 2  # beside the field and in the summary
    assert one_of in page
    assert CREATION not in page
    assert participants(db_session) == 0


def test_enrolment_fields_are_all_reported_on_the_page(app, make_user, db_session):
    client = page_as(app, make_user, "research_worker", ["BU"])
    response = client.post(
        "/participants/new",
        data={
            "category": "service_user",
            "site": "BU",
            "enrolment_date": "2025-03-01",
            "year_of_birth": "1990",
        },
    )
    page = response.get_data(as_text=True)
    for field in ("gender", "consent_date", "consent_version", "arm"):
        assert f'id="error-{field}"' in page
    assert ENROLMENT in page
    assert participants(db_session) == 0


# --- the import ------------------------------------------------------------------------


def test_import_names_file_line_and_field_and_imports_nothing(app, tmp_path, db_session):
    path = tmp_path / "people.csv"
    path.write_text(
        "category,gender,year_of_birth,age,enrolment_date,consent_date,consent_version,arm\n"
        "service_user,female,1980,,2025-02-01,2025-02-01,1.0,intervention\n"
        "psw,,,52,,,,\n"
        "service_user,male,1990,,2025-02-03,,1.0,\n"
    )
    result = app.test_cli_runner().invoke(
        args=["import", "participants", str(path), "--site", "BU"]
    )
    assert result.exit_code == 1
    assert "Nothing imported; 3 problem(s)" in result.output
    assert f"people.csv line 3: gender: {CREATION}" in result.output
    assert f"people.csv line 4: consent_date: {ENROLMENT}" in result.output
    assert f"people.csv line 4: arm: {ENROLMENT}" in result.output
    assert participants(db_session) == 0


# --- deleting from the pages -----------------------------------------------------------


def test_a_site_lead_deletes_with_a_reason_after_confirming(
    app, make_user, make_participant, db_session
):
    participant = make_participant("BU", enrolment_date=date(2025, 1, 10))
    keep = make_participant("BU", enrolment_date=date(2025, 1, 11))
    client = page_as(app, make_user, "site_lead", ["BU"])
    shown = client.get(f"/participants/{participant.id}").get_data(as_text=True)
    assert f'href="/participants/{participant.id}/delete"' in shown
    confirm = client.get(f"/participants/{participant.id}/delete").get_data(as_text=True)
    assert 'name="delete_reason"' in confirm and "required" in confirm
    no_reason = client.post(
        f"/participants/{participant.id}/delete",
        data={"version": str(participant.version_id), "delete_reason": ""},
    )
    assert no_reason.status_code == 422
    assert 'id="error-delete_reason"' in no_reason.get_data(as_text=True)
    stale = client.post(
        f"/participants/{participant.id}/delete",
        data={"version": str(participant.version_id + 1), "delete_reason": "duplicate"},
    )
    assert stale.status_code == 422
    assert "changed by someone else" in stale.get_data(as_text=True)
    assert baseline_n(db_session) == "2"
    done = client.post(
        f"/participants/{participant.id}/delete",
        data={"version": str(participant.version_id), "delete_reason": "entered twice"},
    )
    assert done.status_code == 302
    listing = client.get(done.headers["Location"]).get_data(as_text=True)
    assert f"{participant.study_id} was deleted" in listing
    assert "1 participant" in listing and keep.study_id in listing
    assert client.get(f"/participants/{participant.id}").status_code == 404
    row = db_session.get(Participant, participant.id)
    assert row.deleted_at is not None and row.deleted_reason == "entered twice"
    event = db_session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity == "participants",
            AuditEvent.entity_id == str(participant.id),
            AuditEvent.action == "delete",
        )
    ).one()
    assert event.reason == "entered twice"
    # the dashboard and the summary tables count only the participant that is left
    from trialdm.participants.queries import counts_by_site_status_arm

    assert sum(n for *_, n in counts_by_site_status_arm(db_session)) == 1
    assert baseline_n(db_session) == "1"


def baseline_n(session) -> str:
    """The total N of the baseline characteristics table (Table 1)."""
    from datetime import UTC, datetime

    from trialdm.summaries.engine import compute_table
    from trialdm.summaries.operations import build_context
    from trialdm.summaries.registry import specs

    context = build_context(session, datetime.now(UTC))
    table = compute_table(specs()["baseline_characteristics"], context).as_json()
    row = next(r for r in table["rows"] if r["label"] == "N")
    return row["cells"][-1]["text"]


def test_a_research_worker_cannot_delete(app, make_user, make_participant, api_as, db_session):
    participant = make_participant("BU", enrolment_date=date(2025, 1, 10))
    client = page_as(app, make_user, "research_worker", ["BU"])
    assert "/delete" not in client.get(f"/participants/{participant.id}").get_data(as_text=True)
    assert client.get(f"/participants/{participant.id}/delete").status_code == 403
    refused = client.post(
        f"/participants/{participant.id}/delete",
        data={"version": str(participant.version_id), "delete_reason": "mine"},
    )
    assert refused.status_code == 403
    api = api_as("research_worker", ["BU"])
    by_api = api.delete(
        f"/api/v1/participants/{participant.id}?reason=mine",
        headers={"If-Match": f'"{participant.version_id}"'},
    )
    assert by_api.status_code == 403
    assert db_session.get(Participant, participant.id).deleted_at is None


def test_a_site_lead_of_another_site_does_not_see_it(app, make_user, make_participant):
    participant = make_participant("BU")
    client = page_as(app, make_user, "site_lead", ["ULM"])
    response = client.post(
        f"/participants/{participant.id}/delete",
        data={"version": str(participant.version_id), "delete_reason": "not mine"},
    )
    assert response.status_code == 404


def test_import_without_a_required_column_stops_at_the_header(api_as, db_session):
    import io

    lead = api_as("site_lead", ["BU"])
    response = lead.client.post(
        "/api/v1/participants/import",
        data={"site": "BU", "file": (io.BytesIO(b"category,gender\npsw,male\n"), "p.csv")},
        headers={"Authorization": f"Bearer {lead.token}"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert response.json["errors"] == {
        "line 1": ["year_of_birth: Missing column (year_of_birth or age): every record needs it."]
    }
    assert participants(db_session) == 0
