import io

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trialdm.core.audit import AuditEvent
from trialdm.participants.models import Participant

GOOD = """category,gender,year_of_birth,enrolment_date,consent_date,consent_version,arm,diagnoses
service_user,female,1980,2025-02-01,2025-02-01,1.0,intervention,F20;other:hearing voices
service_user,male,1990,2025-02-03,2025-02-02,1.0,control,F32
psw,female,1975,,,,,
"""

BAD = """category,gender,year_of_birth,enrolment_date,consent_date,consent_version,arm
service_user,female,1980,2025-02-01,2025-02-01,1.0,intervention
service_user,alien,1990,2025-02-03,2025-02-02,1.0,control
service_user,male,1930,2025-02-03,2025-02-04,1.0,control
"""


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Participant))


def upload(api, text: str, site: str = "BU"):
    return api.client.post(
        "/api/v1/participants/import",
        data={"site": site, "file": (io.BytesIO(text.encode()), "p.csv")},
        headers={"Authorization": f"Bearer {api.token}"},
        content_type="multipart/form-data",
    )


def test_upload_imports_every_row_and_audits_as_import(api_as, db_session):
    lead = api_as("site_lead", ["BU"])
    response = upload(lead, GOOD)
    assert response.status_code == 201, response.json
    assert response.json == {"created": 3, "study_ids": ["BU-0001", "BU-0002", "BU-PSW-01"]}
    sources = set(
        db_session.scalars(select(AuditEvent.source).where(AuditEvent.entity == "participants"))
    )
    assert sources == {"import"}


def test_one_bad_row_imports_nothing_and_reports_each_problem(api_as, db_session):
    lead = api_as("site_lead", ["BU"])
    before = count(db_session)
    response = upload(lead, BAD)
    assert response.status_code == 422
    errors = response.json["errors"]
    assert "gender" in errors["line 3"][0]
    assert any("year_of_birth" in m for m in errors["line 4"])
    assert any("consent_date" in m for m in errors["line 4"])
    assert "line 2" not in errors
    assert count(db_session) == before


def test_unknown_column_and_other_site(api_as):
    lead = api_as("site_lead", ["BU"])
    unknown = upload(lead, "category,gender,age,name\npsw,female,30,Alice\n")
    assert unknown.json["errors"]["line 1"] == ["name: Unknown column."]
    assert upload(lead, GOOD, site="ULM").status_code == 403
    assert upload(api_as("research_worker", ["BU"]), GOOD).status_code == 403


def test_cli_import_is_all_or_nothing(app, tmp_path, db_session):
    good = tmp_path / "good.csv"
    good.write_text(GOOD)
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD)
    runner = app.test_cli_runner()
    before = count(db_session)
    failed = runner.invoke(args=["import", "participants", str(bad), "--site", "BU"])
    assert failed.exit_code == 1
    assert "Nothing imported; 3 problem(s)" in failed.output
    assert "line 3: gender:" in failed.output
    assert count(db_session) == before
    ok = runner.invoke(args=["import", "participants", str(good), "--site", "BU"])
    assert ok.exit_code == 0, ok.output
    assert "imported 3 participants" in ok.output
    assert count(db_session) == before + 3
