"""Browser tests: every role's main pages in German and Hebrew, read as a person sees
them in Debian's chromium (rendered, visible text only), hold no English outside data.

Data is what the pages isolate as data (``<bdi>``, ``dir="ltr"/"auto"``, ``lang="en"``,
codes, form controls): study IDs, names, dates, what people typed. The allowed words
and the left-out areas are those of ``tests/test_web_languages.py``.
"""

from __future__ import annotations

import os
import re

import pytest

from tests.browser.live import browser_missing, build_live_app, launch_chromium, serving
from tests.test_web_languages import ALLOWED, ENGLISH_ONLY, LEFT_OUT

pytestmark = pytest.mark.browser
DEMO_PASSWORD = "demo-password"
# German words spelled as English ones ("Was wurde geändert?")
GERMAN_TOO = {"Was"}

_missing = browser_missing()
if _missing:
    if os.environ.get("CI", "").lower() == "true":
        raise RuntimeError(f"CI=true needs the browser tests: {_missing}")
    pytest.skip(_missing, allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402

# Every role (demo account) and its main pages.
PAGES = {
    "rw.bu@demo.trialdm.org": ["/", "/participants", "/contacts", "/contacts/new", "/status"],
    "lead.bu@demo.trialdm.org": ["/", "/participants", "/audit/log", "/qualitative"],
    "coordinator@demo.trialdm.org": ["/", "/participants", "/contacts", "/audit/log"],
    "monitor@demo.trialdm.org": ["/", "/quality/queries"],
    "translator.bu@demo.trialdm.org": ["/", "/translation/"],
    "reviewer.bu@demo.trialdm.org": ["/", "/translation/"],
    "statistician@demo.trialdm.org": ["/"],
    "admin@demo.trialdm.org": ["/"],
}

# The rendered text of <main> outside data containers and left-out areas, visible only.
VISIBLE_TEXT = """(leftOut) => {
  const main = document.querySelector("main");
  if (!main) return "";
  const skip = (el) => {
    for (let e = el; e && e !== main.parentElement; e = e.parentElement) {
      const tag = e.tagName.toLowerCase();
      if (["script", "style", "bdi", "time", "textarea", "option", "select", "svg",
           "code"].includes(tag)) return true;
      const dir = e.getAttribute("dir");
      if (dir === "ltr" || dir === "auto" || e.getAttribute("lang") === "en") return true;
      if (leftOut.includes(e.id) || leftOut.some((c) => e.classList.contains(c))) return true;
      if (tag === "a" && (e.getAttribute("href") || "").includes("/translation/translations/"))
        return true;
    }
    return false;
  };
  const out = [];
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || skip(el) || !el.getClientRects().length) continue;
    out.push(node.textContent);
  }
  return out.join(" ");
}"""


def english_words(text: str, language: str) -> set[str]:
    words = {
        w
        for w in re.findall(r"[A-Za-z][A-Za-z']{2,}", text)
        if w not in ALLOWED and not re.fullmatch(r"[A-Z]{2,4}", w)
    }
    if language == "de":  # German shares letters with English: only English words count
        words = {w for w in words if w.lower() in ENGLISH_ONLY and w not in GERMAN_TOO}
    return words


@pytest.fixture(scope="module")
def live_url(tmp_path_factory):
    app = build_live_app(tmp_path_factory.mktemp("browser_languages"))
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


@pytest.mark.parametrize("language", ["de", "he"])
def test_main_pages_of_every_role_read_in_the_language(browser, live_url, language):
    found: dict[str, set[str]] = {}
    for email, paths in PAGES.items():
        context = browser.new_context(locale="en-GB")
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(live_url + "/login")
        with page.expect_navigation():
            page.select_option("#language", language)
        page.fill("#email", email)
        page.fill("#password", DEMO_PASSWORD)
        page.click("form.stack button[type=submit]")
        page.wait_for_load_state()
        for path in paths:
            response = page.goto(live_url + path)
            assert response is not None and response.status == 200, (email, path)
            assert page.locator("html").get_attribute("lang") == language
            expected_dir = "rtl" if language == "he" else "ltr"
            assert page.locator("html").get_attribute("dir") == expected_dir
            words = english_words(page.evaluate(VISIBLE_TEXT, list(LEFT_OUT)), language)
            if words:
                found[f"{email} {path}"] = words
        context.close()
    assert not found, found
