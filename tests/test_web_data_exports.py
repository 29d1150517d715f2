"""The data-export pages beside the workbooks: form, errors, progress bar, download."""

from __future__ import annotations

import io
import zipfile
from datetime import date

from tests.web_helpers import page_as
from trialdm.exports.models import ExportJob


def test_coordinator_exports_from_the_page_and_downloads(
    app, make_user, make_participant, db_session
):
    make_participant("BU", enrolment_date=date(2025, 2, 1))
    client = page_as(app, make_user, "coordinator")
    workbooks = client.get("/exports").get_data(as_text=True)
    assert 'href="/exports/data"' in workbooks  # offered beside the workbooks
    form = client.get("/exports/data").get_data(as_text=True)
    assert 'value="all"' in form and 'value="stata"' in form and 'value="participants"' in form
    started = client.post(
        "/exports/data",
        data={
            "scope": "all",
            "format": "csv",
            "datasets": ["participants"],
            "labels": "labels",
            "identifiers": "exclude",
        },
    )
    assert started.status_code == 302, started.get_data(as_text=True)[:2000]
    job = db_session.query(ExportJob).one()
    assert (job.format, job.datasets, job.labels, job.identifiers) == (
        "csv",
        ["participants"],
        "labels",
        "exclude",
    )
    page = client.get(started.headers["Location"]).get_data(as_text=True)
    download = f"/api/v1/exports/{job.id}/download"
    assert download in page and "occupation" in page  # left out, listed
    archive = zipfile.ZipFile(io.BytesIO(client.get(download).data))
    assert "participants.csv" in archive.namelist()
    assert f"/exports/data/{job.id}" in client.get("/exports/data").get_data(as_text=True)


def test_form_errors_and_who_may_export(app, make_user):
    lead = page_as(app, make_user, "site_lead", ["BU"])
    form = lead.get("/exports/data").get_data(as_text=True)
    assert 'value="all"' not in form and 'value="BU"' in form
    refused = lead.post("/exports/data", data={"scope": "all", "format": "csv"})
    assert refused.status_code == 422
    assert "your own site" in refused.get_data(as_text=True)
    wrong = lead.post("/exports/data", data={"scope": "BU", "format": "spss", "labels": "labels"})
    assert wrong.status_code == 422 and "for CSV only" in wrong.get_data(as_text=True)
    worker = page_as(app, make_user, "research_worker", ["BU"])
    assert worker.get("/exports/data").status_code == 403


def test_progress_bar_polls_the_job_api(app, make_user, db_session):
    job = ExportJob(
        scope="all",
        format="stata",
        datasets=["participants"],
        labels="raw",
        identifiers="include",
        state="running",
        progress=40,
        step="Writing participants",
    )
    db_session.add(job)
    db_session.commit()
    client = page_as(app, make_user, "coordinator")
    page = client.get(f"/exports/data/{job.id}").get_data(as_text=True)
    assert f'data-poll-url="/api/v1/exports/{job.id}"' in page
    assert '<progress id="job-progress" max="100" value="40">' in page
    assert "Writing participants" in page
