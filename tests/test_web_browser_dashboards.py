"""Browser test at phone width: for each role, the first widget of its daily work
stands above the folded reminders (the widgets stack in one column on a phone)."""

from __future__ import annotations

import pytest

from tests.test_web_browser import DEMO_PASSWORD, browser, live_url, page  # noqa: F401

pytestmark = pytest.mark.browser

from playwright.sync_api import expect  # noqa: E402

# demo account -> the widget of its daily work that must come first
DAILY = {
    "rw.bu@demo.trialdm.org": "fidelity",
    "lead.bu@demo.trialdm.org": "fidelity",
    "translator.bu@demo.trialdm.org": "translation_queue",
    "reviewer.bu@demo.trialdm.org": "translation_queue",
    "coordinator@demo.trialdm.org": "participants",
    "monitor@demo.trialdm.org": "queries",
}


@pytest.mark.parametrize("email", list(DAILY))
def test_daily_work_is_above_the_reminders_on_a_phone(page, live_url, email):  # noqa: F811
    page.goto(live_url + "/login")
    page.fill("#email", email)
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]:has-text('Log in')")
    expect(page.locator("h1")).to_have_text("Dashboard")
    assert page.viewport_size["width"] <= 420
    first = page.locator("section.widget").first
    expect(first).to_have_attribute("id", f"widget-{DAILY[email]}")
    work = page.locator(f"#widget-{DAILY[email]}").bounding_box()
    reminders = page.locator("#widget-inbox").bounding_box()
    assert work is not None and reminders is not None
    assert work["y"] + work["height"] <= reminders["y"], (work, reminders)
    # folded: the reminders' entries are not shown until the summary is opened
    expect(page.locator("#widget-inbox details")).not_to_have_attribute("open", "")
    assert not page.errors, page.errors
