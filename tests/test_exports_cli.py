"""``trialdm export``: the same job as the API's, built in the process, written to a file."""

from __future__ import annotations

import zipfile

import pyreadstat
import pytest
from sqlalchemy import select

from tests.exports_fixtures import HEBREW, probe_trial
from trialdm.core.audit import AuditEvent
from trialdm.exports.models import ExportJob


@pytest.fixture
def trial(db_session, make_participant, api_as):
    return probe_trial(db_session, make_participant, api_as)


def test_export_all_sites_to_stata(app, trial, db_session, tmp_path):
    output = tmp_path / "trial.zip"
    result = app.test_cli_runner().invoke(
        args=["export", "--scope", "all", "--format", "stata", "-o", str(output)]
    )
    assert result.exit_code == 0, result.output
    assert "Exporting" in result.output  # the progress bar (drawn in full on a terminal)
    assert "export_probe: 3 rows" in result.output and f"Wrote {output}" in result.output
    with zipfile.ZipFile(output) as archive:
        archive.extract("export_probe.dta", tmp_path)
        assert "codebook.csv" in archive.namelist()
        readme = archive.read("README.txt").decode()
    frame, _ = pyreadstat.read_dta(str(tmp_path / "export_probe.dta"))
    rows = {row["study_id"]: row for row in frame.to_dict("records")}
    assert rows[trial.full_id]["comment"] == HEBREW and set(rows) >= {trial.other_id}
    assert "Requested by: command line" in readme
    job = db_session.scalar(select(ExportJob).order_by(ExportJob.id.desc()))
    assert (job.state, job.scope, job.format) == ("done", "all", "stata")
    written = db_session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity == "export_job",
            AuditEvent.entity_id == str(job.id),
            AuditEvent.action == "download",
        )
    ).all()
    assert [e.source for e in written] == ["cli"] and written[0].changes["file"] == str(output)


def test_export_refuses_clearly_and_keeps_existing_files(app, trial, tmp_path):
    runner = app.test_cli_runner()
    bad = runner.invoke(
        args=["export", "--scope", "all", "--dataset", "nonesuch", "-o", str(tmp_path / "x.zip")]
    )
    assert bad.exit_code == 1
    assert "datasets: Unknown dataset 'nonesuch'" in bad.output
    assert not (tmp_path / "x.zip").exists()
    existing = tmp_path / "kept.zip"
    existing.write_text("keep me")
    refused = runner.invoke(args=["export", "--scope", "BU", "-o", str(existing)])
    assert refused.exit_code == 1 and "use --force" in refused.output
    assert existing.read_text() == "keep me"
    forced = runner.invoke(args=["export", "--scope", "BU", "-o", str(existing), "--force"])
    assert forced.exit_code == 0, forced.output
    with zipfile.ZipFile(existing) as archive:
        text = archive.read("export_probe.csv").decode("utf-8-sig")
    assert trial.full_id in text and trial.other_id not in text
