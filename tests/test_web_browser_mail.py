"""A link in a reminder e-mail opens its page: the scan of the demo trial mails the
site's team, every link in the mail is under BASE_URL (the served address here), and
following one in the browser logs the person in and lands on the thing itself."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from tests.browser.live import build_live_app, free_port, serving
from tests.test_web_browser import DEMO_PASSWORD, browser  # noqa: F401

pytestmark = pytest.mark.browser

from playwright.sync_api import expect  # noqa: E402


@pytest.fixture(scope="module")
def mailed(tmp_path_factory):
    """The served demo app after a reminder scan of BU: (base URL, {address: bodies})."""
    from trialdm.core.scoping import all_sites
    from trialdm.core.tasks import run_eager_tasks
    from trialdm.extensions import db
    from trialdm.reminders import operations
    from trialdm.reminders.models import OutboxMessage

    port = free_port()
    app = build_live_app(tmp_path_factory.mktemp("mail"), base_url=f"http://127.0.0.1:{port}/")
    with serving(app, port) as url:
        with app.app_context(), all_sites():
            operations.scan_site(db.session, "BU", date.today())
            db.session.commit()
            run_eager_tasks()
            bodies: dict[str, list[str]] = {}
            for message in db.session.scalars(select(OutboxMessage)):
                bodies.setdefault(message.to_address, []).append(message.body)
        yield url, bodies
        with app.app_context():
            db.engine.dispose()


def test_a_link_in_a_reminder_mail_opens_its_page(browser, mailed):  # noqa: F811
    url, bodies = mailed
    assert bodies, "the scan of the demo trial mails nobody"
    links = [
        link
        for texts in bodies.values()
        for t in texts
        for link in re.findall(r"https?://[^\s()]+", t)
    ]
    assert links and [link for link in links if not link.startswith(url + "/")] == []
    assert not [link for link in links if "/api/" in link]
    mine = [
        link
        for t in bodies.get("rw.bu@demo.trialdm.org", [])
        for link in re.findall(r"https?://[^\s()]+/participants/\d+", t)
    ]
    assert mine, bodies.keys()

    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(mine[0])  # not logged in: the login page, then the participant
    page.fill("#email", "rw.bu@demo.trialdm.org")
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]:has-text('Log in')")
    expect(page).to_have_url(mine[0])
    expect(page.locator("h1")).to_contain_text("BU-")
    context.close()
