"""Browser tests of form widgets at phone width: the diagnosis list searched as one
types, chosen by touch, and corrected through its chips."""

from __future__ import annotations

import re

import pytest

from tests.browser.live import PHONE
from tests.test_web_browser import browser, live_url, log_in  # noqa: F401

pytestmark = pytest.mark.browser

from playwright.sync_api import expect  # noqa: E402


@pytest.fixture
def phone(browser):  # noqa: F811
    context = browser.new_context(viewport=PHONE, locale="en-GB", has_touch=True, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    yield page
    context.close()


def test_search_tap_and_remove_diagnoses_on_a_phone(phone, live_url):  # noqa: F811
    page = phone
    log_in(page, live_url, "rw.bu@demo.trialdm.org")
    page.goto(live_url + "/participants/new?category=service_user")
    page.select_option("#field-gender", "male")
    page.fill("#field-year_of_birth", "1990")
    page.fill("#field-enrolment_date", "2025-04-02")
    page.fill("#field-consent_date", "2025-04-01")
    page.fill("#field-consent_version", "2.1")
    page.select_option("#field-arm", "control")

    search = page.locator("#search-diagnoses")
    expect(search).to_be_visible()
    search.fill("schizo")
    f20 = page.locator(".mc-item", has=page.locator("input[value=F20]"))
    f25 = page.locator(".mc-item", has=page.locator("input[value=F25]"))
    expect(f20).to_be_visible()
    expect(page.locator(".mc-item", has=page.locator("input[value=F32]"))).to_be_hidden()
    mood = page.get_by_role("group", name="Mood [affective] disorders", exact=True)
    expect(mood).to_be_hidden()
    box = f20.bounding_box()
    assert box and box["height"] >= 44  # a finger-sized target

    f20.tap()
    f25.tap()
    chips = page.locator(".chips .chip")
    expect(chips).to_have_count(2)
    expect(chips.first).to_contain_text("F20 · Schizophrenia")
    chips.filter(has_text="F25").tap()
    expect(chips).to_have_count(1)
    expect(page.locator("input[value=F25]")).not_to_be_checked()
    expect(page.locator("input[value=F20]")).to_be_checked()

    page.click("button:has-text('Create')")
    expect(page.locator(".flash")).to_contain_text(re.compile(r"BU-\d{4} was created"))
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("F20")
    expect(facts).not_to_contain_text("F25")
    expect(facts).not_to_contain_text("F32")
    assert not page.errors, page.errors


def test_the_search_box_is_usable_from_the_keyboard(phone, live_url):  # noqa: F811
    page = phone
    log_in(page, live_url, "rw.bu@demo.trialdm.org")
    page.goto(live_url + "/participants/new?category=service_user")
    search = page.locator("#search-diagnoses")
    search.fill("f32.1")
    page.keyboard.press("Enter")  # the only match is ticked; the form is not sent
    expect(page.locator("input[value='F32.1']")).to_be_checked()
    expect(page.locator("h1")).to_contain_text("New participant")
    chip = page.locator(".chips .chip")
    expect(chip).to_have_count(1)
    chip.focus()
    page.keyboard.press("Enter")
    expect(chip).to_have_count(0)
    expect(search).to_be_focused()
    assert not page.errors, page.errors
