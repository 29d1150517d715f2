from datetime import date

from tests.web_helpers import page_as
from trialdm.summaries.models import SummaryJob


def test_coordinator_builds_a_cross_site_workbook_and_previews_its_tables(
    app, make_user, make_participant, db_session
):
    make_participant("BU", enrolment_date=date(2025, 2, 1))
    make_participant("ULM", enrolment_date=date(2025, 3, 1), arm="control")
    client = page_as(app, make_user, "coordinator")
    form = client.get("/exports").get_data(as_text=True)
    assert 'value="all"' in form and 'value="recruitment" checked' in form
    started = client.post("/exports", data={"scope": "all", "tables": ["recruitment"]})
    assert started.status_code == 302
    job = db_session.query(SummaryJob).one()
    assert job.scope == "all" and job.tables == ["recruitment"]
    page = client.get(started.headers["Location"]).get_data(as_text=True)
    assert f"/api/v1/summaries/{job.id}/download" in page  # eager tasks: already built
    table = client.get(f"/exports/{job.id}/tables/recruitment").get_data(as_text=True)
    assert "Butabika" in table and "Ulm" in table
    listing = client.get("/exports").get_data(as_text=True)
    assert f"/exports/{job.id}" in listing


def test_form_errors_and_site_leads_get_their_own_site_only(app, make_user):
    lead = page_as(app, make_user, "site_lead", ["BU"])
    form = lead.get("/exports").get_data(as_text=True)
    assert 'value="all"' not in form and 'value="BU"' in form
    refused = lead.post("/exports", data={"scope": "all", "tables": ["recruitment"]})
    assert refused.status_code == 422
    assert "Ask for your own site" in refused.get_data(as_text=True)
    empty = lead.post("/exports", data={"scope": "BU"})
    assert 'id="error-tables"' in empty.get_data(as_text=True)
    worker = page_as(app, make_user, "research_worker", ["BU"])
    assert worker.get("/exports").status_code == 403


def test_progress_page_polls_the_job_api_until_done(app, make_user, db_session):
    job = SummaryJob(
        scope="all",
        tables=["recruitment"],
        state="running",
        progress=40,
        step="Computing",
        trigger="api",
    )
    db_session.add(job)
    db_session.commit()
    page = page_as(app, make_user, "coordinator").get(f"/exports/{job.id}").get_data(as_text=True)
    assert f'data-poll-url="/api/v1/summaries/{job.id}"' in page
    assert '<progress id="job-progress" max="100" value="40">' in page


def test_table_titles_and_labels_are_shown_in_the_readers_language(
    app, make_user, make_participant, db_session
):
    make_participant("BU", enrolment_date=date(2025, 2, 1))
    client = page_as(app, make_user, "coordinator")
    started = client.post("/exports", data={"scope": "all", "tables": ["fidelity"]})
    job = db_session.query(SummaryJob).one()
    assert started.status_code == 302
    client.post("/language", data={"language": "de"})
    german = client.get(f"/exports/{job.id}/tables/fidelity").get_data(as_text=True)
    assert "Umsetzungstreue der Intervention nach Standort" in german
    assert "Gruppenkontakte, n (% der Kontakte)" in german
    assert "Butabika" in german  # data stays as it is
    client.post("/language", data={"language": "he"})
    hebrew = client.get(f"/exports/{job.id}/tables/fidelity").get_data(as_text=True)
    assert "נאמנות לפרוטוקול ההתערבות לפי אתר" in hebrew
    assert "מפגשים קבוצתיים, n (% מהמפגשים)" in hebrew
    assert "Intervention fidelity by site" not in hebrew
    # the Word download of the table speaks the reader's language too
    import io

    import docx

    client.post("/language", data={"language": "de"})
    download = client.get(f"/api/v1/summaries/{job.id}/tables/fidelity/docx")
    assert download.status_code == 200
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(download.data)).paragraphs)
    assert "Umsetzungstreue der Intervention nach Standort" in text
