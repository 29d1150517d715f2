"""Browser tests: Debian's chromium, headless, against the app on localhost.

They run when chromium and Playwright are installed (``make test`` installs chromium
where it can) and always under CI=true, where a missing browser fails the run.
"""

from __future__ import annotations

import io
import os
import re
import threading
import time
from pathlib import Path

import pytest

from tests.browser.live import (
    PHONE,
    browser_missing,
    build_live_app,
    launch_chromium,
    serving,
)

pytestmark = pytest.mark.browser
DEMO_PASSWORD = "demo-password"

_missing = browser_missing()
if _missing:
    if os.environ.get("CI", "").lower() == "true":
        raise RuntimeError(f"CI=true needs the browser tests: {_missing}")
    pytest.skip(_missing, allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def live_url(tmp_path_factory):
    app = build_live_app(tmp_path_factory.mktemp("browser"))
    with serving(app) as url:
        yield url
    from trialdm.extensions import db

    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=PHONE, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    # CSP violations and script errors (a failed login's 401 is expected, not counted)
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and "Failed to load resource" not in m.text
            else None
        ),
    )
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    yield page
    context.close()


def log_in(page, live_url: str, email: str) -> None:
    page.goto(live_url + "/login")
    page.fill("#email", email)
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]:has-text('Log in')")
    expect(page.locator("h1")).to_have_text("Dashboard")
    # the deferred scripts (the language menu's submit-on-change) have run by "load"
    page.wait_for_load_state("load")


def test_log_in_and_out(page, live_url):
    page.goto(live_url + "/participants")
    assert "/login" in page.url
    page.fill("#email", "rw.bu@demo.trialdm.org")
    page.fill("#password", "wrong password")
    page.click("button:has-text('Log in')")
    expect(page.locator(".error-summary")).to_contain_text("not right, or the account is locked")
    page.fill("#password", DEMO_PASSWORD)
    page.click("button:has-text('Log in')")
    expect(page.locator("h1")).to_have_text("Participants")  # back where we were going
    expect(page.locator("svg")).to_have_count(0)
    page.click("a:has-text('Dashboard')")
    expect(page.locator("#widget-participants svg polyline")).to_have_count(1)
    page.click("button:has-text('Log out')")
    expect(page.locator(".flash")).to_have_text("You are logged out.")
    assert not page.errors, page.errors  # no CSP violations or script errors


def test_create_participant_with_an_error_and_fix_it(page, live_url):
    log_in(page, live_url, "rw.bu@demo.trialdm.org")
    page.click("nav >> text=Participants")
    page.click("text=New participant")
    page.click("a:has-text('Service user')")
    page.select_option("#field-gender", "female")
    page.fill("#field-year_of_birth", "1940")  # too old to enrol
    page.fill("#field-enrolment_date", "2025-04-02")
    page.fill("#field-consent_date", "2025-04-01")
    page.fill("#field-consent_version", "2.1")
    page.select_option("#field-arm", "intervention")
    page.check("input[name=diagnoses][value=F20]")
    page.check("input[name=diagnoses][value=F32]")
    page.fill("#field-occupation", "gardener")
    page.click("button:has-text('Create')")
    error = page.locator("#error-year_of_birth")
    expect(error).to_contain_text("outside the eligible")
    expect(page.locator("#error-summary")).to_be_focused()
    expect(page.locator("#field-occupation")).to_have_value("gardener")
    expect(page.locator("#field-year_of_birth")).to_have_attribute("aria-invalid", "true")
    page.click("#error-summary a")  # the summary links to the field
    expect(page.locator("#field-year_of_birth")).to_be_focused()
    page.fill("#field-year_of_birth", "1988")
    page.click("button:has-text('Create')")
    expect(page.locator(".flash")).to_contain_text(re.compile(r"BU-\d{4} was created"))
    expect(page.locator("dl.facts")).to_contain_text("gardener")
    expect(page.locator("dl.facts")).to_contain_text("F32")
    assert not page.errors, page.errors


def test_empty_form_creates_nothing_and_a_site_lead_deletes_a_mistake(page, live_url):
    log_in(page, live_url, "lead.bu@demo.trialdm.org")
    page.goto(live_url + "/participants/new?category=psw")
    expect(page.locator("label[for='field-gender'] .req")).to_have_text("*")
    page.click("button:has-text('Create')")  # nothing filled in
    for field in ("gender", "year_of_birth", "age"):
        expect(page.locator(f"#error-{field}")).to_be_visible()
    expect(page.locator("#error-summary")).to_be_focused()
    # a complete record, then deleted as a mistake
    page.select_option("#field-gender", "male")
    page.fill("#field-age", "41")
    page.click("button:has-text('Create')")
    expect(page.locator(".flash")).to_contain_text(re.compile(r"BU-PSW-\d+ was created"))
    study_id = page.locator("h1").inner_text()
    page.click("a:has-text('Delete')")
    page.click("button:has-text('Delete participant')")  # without a reason
    expect(page.locator("#error-delete_reason")).to_be_visible()
    page.fill("#field-delete_reason", "created by mistake")
    page.click("button:has-text('Delete participant')")
    expect(page.locator(".flash")).to_contain_text(f"{study_id} was deleted")
    page.fill("input[name='q']", study_id)
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_contain_text("0 participants")
    expect(page.locator(f"a:has-text('{study_id}')")).to_have_count(0)
    assert not page.errors, page.errors


def test_switch_to_hebrew_and_see_right_to_left(page, live_url):
    log_in(page, live_url, "rw.bgu@demo.trialdm.org")
    page.select_option("#language", "he")  # submits by itself (trialdm.js)
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("h1")).to_have_text("לוח בקרה")
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    brand = page.locator(".brand").bounding_box()
    assert brand["x"] > PHONE["width"] / 2  # the header starts on the right
    page.select_option("#language", "en")
    expect(page.locator("html")).to_have_attribute("dir", "ltr")


def test_record_a_group_contact_and_see_fidelity_change(page, live_url):
    log_in(page, live_url, "lead.bu@demo.trialdm.org")
    # enrolled months ago and never contacted: at risk (the window opened at enrolment)
    page.goto(live_url + "/participants?arm=intervention&fidelity=at_risk")
    page.locator("table.list tbody a").first.click()
    expect(page.locator("#fidelity-status")).to_have_text("At risk")  # the record's page
    study_id = page.locator("h1").inner_text()
    expect(page.locator("#panel-contacts")).to_contain_text("0 of 3 contacts in the window")
    page.click("#panel-contacts a:has-text('Record a session')")
    page.check("input[name=format][value=group]")
    page.locator("input[name=psws]").first.check()
    # the participant we came from is ticked; add a second attendee
    expect(page.locator("#field-attendees input:checked")).to_have_count(1)
    page.locator("#field-attendees input:not(:checked)").first.check()
    page.fill("#field-duration_min", "60")
    page.fill("#field-notes", "Group on coping with stigma")
    page.click("button:has-text('Record')")
    expect(page.locator(".flash")).to_contain_text("with 2 attendee(s) was recorded")
    page.click(f"dd a:has-text('{study_id}')")
    expect(page.locator("#panel-contacts")).to_contain_text("1 of 3 contacts in the window")
    expect(page.locator("#panel-contacts svg rect.contact")).to_have_count(1)
    assert not page.errors, page.errors


def test_fill_a_questionnaire_with_a_condition(page, live_url):
    log_in(page, live_url, "rw.bu@demo.trialdm.org")
    page.goto(live_url + "/participants?category=service_user&arm=intervention")
    page.locator("table.list tbody a").first.click()
    page.select_option("#new-instrument", "psw_session_feedback")
    page.click("#panel-questionnaires button:has-text('Start')")
    expect(page.locator("h1")).to_have_text("Peer support session feedback")
    why_not = page.locator("#q-why_not")
    expect(why_not).to_be_hidden()  # asked only when the answer is "No"
    page.fill("#field-session_date", "2026-01-15")
    page.check("input[name='a.session_format'][value=group]")
    page.check("input[name='a.felt_understood'][value='4']")
    page.check("input[name='a.helpful'][value='5']")
    page.check("input[name='a.would_meet_again'][value=false]")
    expect(why_not).to_be_visible()
    page.fill("#field-why_not", "Meet somewhere quieter")
    page.check("input[name='a.would_meet_again'][value=true]")
    expect(why_not).to_be_hidden()
    page.check("input[name='a.would_meet_again'][value=false]")
    page.click("button:has-text('Save as complete')")
    expect(page.locator(".flash")).to_have_text("The questionnaire was saved as complete.")
    expect(page.locator("dl.answers")).to_contain_text("Meet somewhere quieter")
    expect(page.locator("#response-status")).to_have_text("Complete")
    assert not page.errors, page.errors


def test_monitor_opens_a_query_the_site_answers_it_and_the_monitor_closes_it(page, live_url):
    log_in(page, live_url, "monitor@demo.trialdm.org")
    page.goto(live_url + "/questionnaires?site=BU&instrument=baseline_demographics&status=complete")
    page.locator("table.list tbody a[href^='/questionnaires/']").first.click()
    page.locator("#a-employment + dd a.open-query").click()
    expect(page.locator("h1")).to_have_text("Open a query")
    page.click("button:has-text('Open query')")  # no question: said, nothing opened
    expect(page.locator("#error-question")).to_be_visible()
    page.fill("#field-question", "The paper form says full time: please check.")
    page.click("button:has-text('Open query')")
    expect(page.locator("#query-status")).to_have_text("Open")
    query_url = page.url
    page.click("button:has-text('Log out')")

    log_in(page, live_url, "rw.bu@demo.trialdm.org")
    page.goto(query_url)
    expect(page.locator("#close-form")).to_have_count(0)  # the site answers, not closes
    page.fill("#field-text", "Checked the source document: part time is right.")
    page.click("#answer-form button")
    expect(page.locator("#query-status")).to_have_text("Answered")
    page.click("button:has-text('Log out')")

    log_in(page, live_url, "monitor@demo.trialdm.org")
    expect(page.locator("#widget-queries")).to_contain_text("BU")
    page.goto(query_url)
    page.fill("#close-text", "Thank you.")
    page.click("#close-form button")
    expect(page.locator("#query-status")).to_have_text("Closed")
    expect(page.locator(".conversation li")).to_have_count(3)
    assert not page.errors, page.errors


def test_site_lead_signs_a_completed_form_with_the_password(page, live_url):
    log_in(page, live_url, "lead.bu@demo.trialdm.org")
    page.goto(
        live_url + "/questionnaires?site=BU&instrument=social_inclusion_scale&status=complete"
    )
    page.locator("table.list tbody a[href^='/questionnaires/']").first.click()
    page.click("#sign-form")
    expect(page.locator(".statement")).to_contain_text("Reviewed and approved")
    page.fill("#field-password", "not my password")
    page.click("button:has-text('Sign')")
    expect(page.locator("#error-password")).to_contain_text("Not your password.")
    page.fill("#field-password", DEMO_PASSWORD)
    page.click("button:has-text('Sign')")
    expect(page.locator("#signature")).to_contain_text("Signed and locked")
    expect(page.locator("#signature")).to_contain_text("Reviewed and approved")
    expect(page.locator("a:has-text('Edit')")).to_have_count(0)
    assert not page.errors, page.errors


@pytest.fixture
def builds_in_background(monkeypatch):
    """The live server runs tasks eagerly, at the end of the request that queued them,
    so a workbook would be built before its progress page first loads. Here the queued
    tasks run a moment later in a thread of their own, as a worker would run them,
    and the page has a running job to poll."""
    import trialdm.core.http
    from trialdm.core.tasks import _READY
    from trialdm.extensions import celery, db

    threads: list[threading.Thread] = []
    failures: list[BaseException] = []

    def later(tasks) -> None:
        time.sleep(1.5)
        try:
            celery.loader.import_default_modules()
            for name, args in tasks:
                celery.tasks[name].apply(args=list(args), throw=True)
        except BaseException as exc:  # shown by the test, not lost in the thread
            failures.append(exc)

    def run_in_background() -> None:
        ready = db.session.info.pop(_READY, None)
        if ready:
            thread = threading.Thread(target=later, args=(list(ready),), daemon=True)
            thread.start()
            threads.append(thread)

    monkeypatch.setattr(trialdm.core.http, "run_eager_tasks", run_in_background)
    yield
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures


def test_start_a_cross_site_export_and_download_it(page, live_url, builds_in_background):
    from openpyxl import load_workbook

    from trialdm.config import PROJECT_ROOT
    from trialdm.summaries.registry import SHIPPED_TABLES, read_catalogue

    # the live app reads the shipped tables only
    names = list(read_catalogue([SHIPPED_TABLES], str(PROJECT_ROOT / "instruments")).specs)
    log_in(page, live_url, "coordinator@demo.trialdm.org")
    page.click("nav >> text=Exports")
    page.select_option("#field-scope", "all")
    expect(page.locator("#field-tables input:checked")).to_have_count(len(names))
    page.click("button:has-text('Build the workbook')")
    expect(page.locator(".flash")).to_have_text("The workbook is being built.")
    bar = page.locator("#job-progress")
    expect(bar).to_be_visible()  # the job is still queued: the page polls the job API
    expect(page.locator("#download")).to_be_visible(timeout=60_000)
    expect(bar).to_have_count(0)
    with page.expect_download() as download_info:
        page.click("#download")
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    workbook = load_workbook(io.BytesIO(Path(download.path()).read_bytes()), read_only=True)
    assert workbook.sheetnames[0] == "Cover" and workbook.sheetnames[1::2] == names
    with page.expect_download() as word_info:
        page.locator("a.docx").first.click()
    word = word_info.value
    assert word.suggested_filename.endswith(".docx")
    assert Path(word.path()).read_bytes()[:2] == b"PK"
    cover = {
        row[0]: row[1] for row in workbook["Cover"].iter_rows(values_only=True) if len(row) > 1
    }
    assert "coordinator" in str(cover["Requested by"]), cover
    assert cover["Scope"], cover
    page.click("text=← Exports")
    expect(page.locator("table.list tbody tr").first).to_contain_text("Done")
    assert not page.errors, page.errors
