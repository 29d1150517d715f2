"""History in the browser for the people who need it: a research worker opens the
history of their site's participant, contact session and questionnaire from the
record's page; a site lead filters the site log; a coordinator reads the trial log
of another site. Values read as people know them: study IDs and labels, never ids."""

from __future__ import annotations

import re

import pytest

from tests.test_web_browser import browser, live_url, log_in, page  # noqa: F401

pytestmark = pytest.mark.browser

from playwright.sync_api import expect  # noqa: E402

# A database id list or a program name where a person should read a study ID or label.
PROGRAM_TEXT = re.compile(r"\[\d+(, \d+)*\]|\b(participant_id|site_code|service_user)\b")


def open_history(page, list_url: str, row_link: str) -> str:  # noqa: F811
    page.goto(list_url)
    page.locator(row_link).first.click()
    page.click("a.button:has-text('History')")
    expect(page.locator("ol.history li.event").first).to_be_visible()
    text = page.locator("main").inner_text()
    assert not PROGRAM_TEXT.search(text), PROGRAM_TEXT.search(text)
    return text


def test_a_research_worker_reads_the_history_of_their_sites_records(page, live_url):  # noqa: F811
    log_in(page, live_url, "rw.bu@demo.trialdm.org")
    participant = open_history(page, live_url + "/participants", "table a[href^='/participants/']")
    assert re.search(r"BU-[\w-]+", participant)  # the study ID, as allocated
    contact = open_history(page, live_url + "/contacts", "table a[href^='/contacts/']")
    assert re.search(r"BU-[\w-]+", contact)  # attendees by study ID
    assert "Created" in contact
    answers = open_history(
        page, live_url + "/questionnaires", "table a[href^='/questionnaires/']:not([href$='new'])"
    )
    assert re.search(r"BU-[\w-]+", answers)


def test_a_site_lead_filters_the_site_log(page, live_url):  # noqa: F811
    log_in(page, live_url, "lead.bu@demo.trialdm.org")
    page.click("nav >> text=Log")
    expect(page.locator("h1")).to_have_text("Log of changes")
    expect(page.locator("#field-site")).to_have_count(0)  # one site: nothing to choose
    page.select_option("#field-entity", "participants")
    page.click("form.filters button")
    page.wait_for_url(re.compile(r"entity=participants"), wait_until="load")
    expect(page.locator("table.log tbody tr").first).to_be_visible()
    sites = page.locator("table.log tbody tr td:nth-child(3)").all_inner_texts()
    assert sites and set(sites) == {"BU"}
    page.fill("#field-user", "nobody@example.org")
    page.click("form.filters button")
    expect(page.locator("table.log")).to_contain_text("No changes match.")


def test_a_coordinator_reads_the_trial_log_of_any_site(page, live_url):  # noqa: F811
    log_in(page, live_url, "coordinator@demo.trialdm.org")
    page.click("nav >> text=Log")
    page.select_option("#field-site", "ULM")
    page.click("form.filters button")
    page.wait_for_url(re.compile(r"site=ULM"), wait_until="load")
    expect(page.locator("table.log tbody tr").first).to_be_visible()
    sites = page.locator("table.log tbody tr td:nth-child(3)").all_inner_texts()
    assert sites and set(sites) == {"ULM"}
    records = " ".join(page.locator("table.log tbody tr td:nth-child(4)").all_inner_texts())
    assert not PROGRAM_TEXT.search(records)
