"""A transcript from recording to citation in the browser, each step by the person
whose work it is: the translator uploads the verbatim .docx, the site lead reviews
and confirms the pseudonymisation, the translator reads it with line numbers and
uploads the English .txt, a reviewer returns it with a comment, two reviewers
approve, and a research worker quotes a line range and downloads txt, docx and xlsx."""

from __future__ import annotations

import io
from pathlib import Path

import docx
import pytest
from openpyxl import load_workbook

from tests.test_web_browser import DEMO_PASSWORD, browser, live_url  # noqa: F401
from tests.test_web_transcripts import docx_bytes

pytestmark = pytest.mark.browser

from playwright.sync_api import expect  # noqa: E402

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture
def as_person(browser, live_url):  # noqa: F811
    """A logged-in page per demo account, each in its own browser context."""
    contexts = []

    def open_as(email: str):
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(live_url + "/login")
        page.fill("#email", email)
        page.fill("#password", DEMO_PASSWORD)
        page.click("button[type=submit]:has-text('Log in')")
        expect(page.locator("h1")).to_have_text("Dashboard")
        page.wait_for_load_state("load")
        return page

    yield open_as
    for context in contexts:
        context.close()


def test_a_transcript_from_upload_to_quote_and_download(as_person, live_url):  # noqa: F811
    translator = as_person("translator.bu@demo.trialdm.org")
    translator.goto(live_url + "/translation/transcripts/new")
    sessions = translator.locator("#field-session option:not([value=''])")
    translator.select_option("#field-session", sessions.first.get_attribute("value"))
    translator.fill("#field-title", "Browser FGD")
    translator.click("button:has-text('Record the transcript')")
    expect(translator.locator("h1")).to_have_text("Browser FGD")
    url = translator.url

    verbatim = docx_bytes("Nakato yogera.", "Twasanyuka nnyo.")
    translator.set_input_files(
        "#verbatim-file", {"name": "fgd.docx", "mimeType": DOCX, "buffer": verbatim}
    )
    translator.click("button:has-text('Upload the verbatim text')")
    expect(translator.locator("#transcript-state")).to_have_text("Transcribed")

    lead = as_person("lead.bu@demo.trialdm.org")
    lead.goto(url + "/pseudonymisation")
    lead.click("button[value=apply]")
    expect(lead.locator(".verbatim")).to_contain_text("Nakato yogera.")
    lead.fill("#field-text", "[SU-1] yogera.\nTwasanyuka nnyo.")
    if lead.locator("#field-flags_reviewed").count():
        lead.check("#field-flags_reviewed")
    lead.click("button:has-text('Confirm the pseudonymisation')")
    expect(lead.locator("#transcript-state")).to_have_text("Pseudonymised")

    # the translator reads the pseudonymised text with its line numbers, then translates
    translator.goto(url)
    expect(translator.locator("#local-text tr").nth(0)).to_contain_text("1[SU-1] yogera.")
    expect(translator.locator("body")).not_to_contain_text("Nakato")
    translator.set_input_files(
        "#english-file",
        {"name": "en.txt", "mimeType": "text/plain", "buffer": b"[SU-1] speaks.\nWe were happy.\n"},
    )
    translator.click("button:has-text('Upload the English translation')")
    expect(translator.locator("#english-text-lines tr").nth(1)).to_contain_text("2We were happy.")

    first = as_person("reviewer.bu@demo.trialdm.org")
    first.goto(url)
    first.click("button:has-text('Return with comments')")
    expect(first.locator("#error-comments")).to_be_visible()  # a return needs a comment
    first.fill("#check-comments", "Line 2: 'glad', not 'happy'.")
    first.click("button:has-text('Return with comments')")
    expect(first.locator(".checks")).to_contain_text("Line 2: 'glad'")

    translator.goto(url)
    expect(translator.locator(".checks")).to_contain_text("Line 2: 'glad'")
    translator.fill("#english-text", "[SU-1] speaks.\nWe were glad.\n")
    translator.click("#english-form button[type=submit]")
    expect(translator.locator("#transcript-state")).to_have_text("Translated")

    first.goto(url)
    first.click("button:has-text('Approve the English')")
    expect(first.locator("#check-form")).to_have_count(0)  # one approval per reviewer
    second = as_person("reviewer2.bu@demo.trialdm.org")
    second.goto(url)
    second.click("button:has-text('Approve the English')")
    second.click("button:has-text('Approve the transcript')")
    expect(second.locator("#transcript-state")).to_have_text("Approved")

    reader = as_person("rw.bu@demo.trialdm.org")
    reader.goto(url)
    reader.fill("#field-lines", "1-2")
    reader.click("#quote-form button")
    expect(reader.locator("#quote figcaption")).to_have_text("BU 1–2")
    expect(reader.locator("#quote blockquote")).to_contain_text("We were glad.")
    downloads = {}
    for fmt in ("txt", "docx", "xlsx"):
        with reader.expect_download() as caught:
            reader.click(f".downloads a:has-text('.{fmt}')")
        downloads[fmt] = Path(caught.value.path()).read_bytes()
    assert "2  We were glad." in downloads["txt"].decode("utf-8")
    table = docx.Document(io.BytesIO(downloads["docx"])).tables[0]
    assert [[c.text for c in row.cells] for row in table.rows][1] == ["2", "We were glad."]
    sheet = load_workbook(io.BytesIO(downloads["xlsx"])).active
    assert "We were glad." in [c.value for row in sheet.iter_rows() for c in row]
