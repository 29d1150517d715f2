"""Browser test: a participant fills in a self-report questionnaire on a phone-width
page, from the link a research worker made (no login)."""

from __future__ import annotations

import os

import pytest

from tests.browser.live import PHONE, browser_missing, build_live_app, launch_chromium, serving

pytestmark = pytest.mark.browser

_missing = browser_missing()
if _missing:
    if os.environ.get("CI", "").lower() == "true":
        raise RuntimeError(f"CI=true needs the browser tests: {_missing}")
    pytest.skip(_missing, allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    from tests.seeders.instruments import sync_shipped
    from trialdm.auth.operations import create_token, create_user
    from trialdm.core.scoping import all_sites
    from trialdm.extensions import db

    app = build_live_app(tmp_path_factory.mktemp("browser_selfreport"), "browser_selfreport")
    with app.app_context(), all_sites():
        sync_shipped(db.session)
        user = create_user(db.session, "rw.selfreport@test.org", "research_worker", ["BU"])
        _, token = create_token(db.session, user, "browser")
        db.session.commit()
    with serving(app) as url:
        yield app, url, token
    with app.app_context():
        db.engine.dispose()


def test_fill_a_self_report_questionnaire_on_a_phone(live):
    from datetime import date, timedelta

    app, url, token = live
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    participant = client.post(
        "/api/v1/participants",
        json={
            "site": "BU",
            "category": "service_user",
            "gender": "female",
            "year_of_birth": 1980,
            "enrolment_date": (date.today() - timedelta(days=120)).isoformat(),
            "consent_date": (date.today() - timedelta(days=120)).isoformat(),
            "consent_version": "1.0",
            "arm": "control",
        },
        headers=headers,
    ).json
    made = client.post(
        "/api/v1/self-report-links",
        json={
            "participant_id": participant["id"],
            "instrument": "social_inclusion_scale",
            "event": "T1",
        },
        headers=headers,
    )
    assert made.status_code == 201, made.json
    link = url + made.json["url"][made.json["url"].index("/r/") :]

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        context = browser.new_context(viewport=PHONE, locale="en-GB")
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(link)
        expect(page.locator("h1")).to_have_text("Everyday social inclusion scale")
        expect(page.locator("nav")).to_have_count(0)
        assert participant["study_id"] not in page.content()
        # nothing wider than the phone
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        radios = page.locator("fieldset")
        count = radios.count()
        assert count == 10
        for index in range(5):
            radios.nth(index).locator("input[type=radio]").first.check()
        page.click("button:has-text('Save and finish later')")
        expect(page.locator("[role=status]")).to_contain_text("Your answers are saved")
        page.goto(link)  # coming back later, from the same link
        expect(page.locator("fieldset").nth(0).locator("input[type=radio]").first).to_be_checked()
        for index in range(5, count):
            radios = page.locator("fieldset")
            radios.nth(index).locator("input[type=radio]").first.check()
        page.click("button:has-text('Send my answers')")
        expect(page.locator("h1")).to_have_text("Thank you")
        page.goto(link)
        expect(page.locator("h1")).to_have_text("Thank you")
        assert not errors, errors
        context.close()
        browser.close()
