"""The exports carry each participant's allocation (when, by whom, stratum, errors);
list positions only for those who may see the allocation lists."""

from __future__ import annotations

import csv
import io

import pytest

from tests.exports_fixtures import export
from tests.randomisation_helpers import eligible_participant, randomising


@pytest.fixture
def allocated(app, tmp_path, api_as, db_session):
    with randomising(app, tmp_path):
        assert api_as("statistician").post("/api/v1/randomisation/lists").status_code == 201
        person = eligible_participant(db_session, gender="male")
        waiting = eligible_participant(db_session, gender="female")
        db_session.commit()
        worker = api_as("research_worker", ["BU"])
        url = f"/api/v1/participants/{person.id}/randomisation"
        made = worker.post(url)
        assert made.status_code == 201, made.json
        error = {"kind": "wrong_stratum", "description": "Gender entered wrongly."}
        assert worker.post(url + "/errors", json=error).status_code == 201
        yield person, waiting, made.json, worker


def participants_rows(archive) -> dict[str, dict[str, str]]:
    text = archive.read("participants.csv").decode("utf-8-sig")
    return {row["study_id"]: row for row in csv.DictReader(io.StringIO(text))}


def test_participants_export_holds_the_allocation_but_not_its_position(allocated, api_as):
    person, waiting, made, worker = allocated
    _, archive = export(api_as("coordinator"), scope="all", format="csv", datasets=["participants"])
    rows = participants_rows(archive)
    row = rows[person.study_id]
    assert row["randomised_arm"] == made["arm"] == row["arm"]
    assert row["randomised_at"].startswith(made["randomised_at"][:16])
    assert row["randomised_by_id"] == str(worker.user.id)
    assert row["randomised_by"] == worker.user.email
    assert row["stratum"] == "gender=male"
    assert row["randomisation_errors"] == "wrong_stratum"
    assert row["randomisation_error_notes"] == "Gender entered wrongly."
    assert rows[waiting.study_id]["randomised_at"] == ""
    assert "list_position" not in row and "allocation_list" not in row
    codebook = archive.read("codebook.csv").decode("utf-8-sig")
    assert "participants,randomised_by_id,randomised_by_id,Randomised by (user number)" in codebook
    assert "list_position" not in codebook


def test_without_identifiers_the_randomiser_is_a_user_number(allocated, api_as):
    person, _, _, worker = allocated
    _, archive = export(
        api_as("site_lead", ["BU"]),
        scope="BU",
        format="csv",
        datasets=["participants"],
        identifiers="exclude",
    )
    row = participants_rows(archive)[person.study_id]
    assert row["randomised_by_id"] == str(worker.user.id)
    assert "randomised_by" not in row and "randomisation_error_notes" not in row
    assert "randomised_by" in archive.read("README.txt").decode()


def test_an_admin_export_holds_list_and_position(allocated, api_as):
    person, *_ = allocated
    _, archive = export(api_as("admin"), scope="all", format="stata", datasets=["participants"])
    import tempfile
    from pathlib import Path

    import pyreadstat

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "participants.dta"
        path.write_bytes(archive.read("participants.dta"))
        frame, meta = pyreadstat.read_dta(str(path))
    row = next(r for r in frame.to_dict("records") if r["study_id"] == person.study_id)
    assert row["list_position"] == 1 and row["allocation_list"] >= 1
    assert row["stratum"] == "gender=male"
    assert meta.column_names_to_labels["randomised_at"].startswith("Randomised at")
