"""``make screenshots``: PNGs of every role's main pages at phone and desktop widths, in
English, German and Hebrew.

    python -m tests.browser.screenshots [OUTDIR [NAME ...]]

With names, only the shots whose names start with one of them (``summary-table-he``).

Builds a throw-away SQLite database with the demo data, serves the app on localhost
and photographs each page with Debian's chromium. Pages of areas that are not
installed are left out.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.browser.live import DESKTOP, PHONE, browser_missing, launch_chromium, serving

PASSWORD = "demo-password"


@dataclass(frozen=True)
class Shot:
    name: str
    user: str | None
    path: str
    prepare: Callable[[Any], None] | None = None  # acts on the page before the picture
    language: str = "en"


def submit_with_error(page: Any) -> None:
    page.fill("#field-year_of_birth", "1940")
    page.fill("#field-enrolment_date", "2025-04-02")
    page.click("main form button[type=submit]")


def first_link(pattern: str) -> Callable[[Any], None]:
    def follow(page: Any) -> None:
        link = page.locator(pattern).first
        if link.count():
            link.click()

    return follow


# Every role's dashboard and main pages; each is taken in every language below.
PAGES = [
    Shot("dashboard-research-worker", "rw.bu@demo.trialdm.org", "/"),
    Shot("dashboard-site-lead", "lead.bu@demo.trialdm.org", "/"),
    Shot("dashboard-coordinator", "coordinator@demo.trialdm.org", "/"),
    Shot("dashboard-translator", "translator.bu@demo.trialdm.org", "/"),
    Shot("dashboard-reviewer", "reviewer.bu@demo.trialdm.org", "/"),
    Shot("dashboard-admin", "admin@demo.trialdm.org", "/"),
    Shot("dashboard-monitor", "monitor@demo.trialdm.org", "/"),
    Shot("dashboard-statistician", "statistician@demo.trialdm.org", "/"),
    Shot("status-grid", "rw.bu@demo.trialdm.org", "/status"),
    Shot("queries", "monitor@demo.trialdm.org", "/quality/queries"),
    Shot("participants", "rw.bu@demo.trialdm.org", "/participants"),
    Shot(
        "participant-form-errors",
        "rw.bu@demo.trialdm.org",
        "/participants/new?category=service_user",
        submit_with_error,
    ),
    Shot(
        "participant",
        "lead.bu@demo.trialdm.org",
        "/participants?category=service_user&arm=intervention",
        first_link("table.list tbody a"),
    ),
    Shot(
        "participant-edit",
        "lead.bu@demo.trialdm.org",
        "/participants?category=service_user",
        lambda page: (
            first_link("table.list tbody a")(page),
            first_link("a[href$='/edit']")(page),
        ),
    ),
    Shot(
        "participant-history",
        "rw.bu@demo.trialdm.org",
        "/participants?category=service_user",
        lambda page: (
            first_link("table.list tbody a")(page),
            first_link("a[href$='/history']")(page),
        ),
    ),
    Shot("participants-bgu", "rw.bgu@demo.trialdm.org", "/participants"),
    Shot("contacts", "rw.bu@demo.trialdm.org", "/contacts"),
    Shot("contact-new", "rw.bu@demo.trialdm.org", "/contacts/new"),
    Shot(
        "contact-new-errors",
        "rw.bu@demo.trialdm.org",
        "/contacts/new",
        lambda page: (
            page.fill("#field-duration_min", "ninety"),
            page.click("main form.record button[type=submit]"),
        ),
    ),
    Shot(
        "contact-history",
        "rw.bu@demo.trialdm.org",
        "/contacts",
        lambda page: (
            first_link("table.list tbody a")(page),
            first_link("a[href$='/history']")(page),
        ),
    ),
    Shot(
        "questionnaire-form",
        "rw.bu@demo.trialdm.org",
        "/participants?category=service_user&arm=intervention",
        lambda page: (
            first_link("table.list tbody a")(page),
            page.select_option("#new-instrument", "psw_session_feedback"),
            page.click("#panel-questionnaires form.inline button[type=submit]"),
            page.check("input[name='a.would_meet_again'][value=false]"),
        ),
    ),
    Shot("questionnaires", "rw.bu@demo.trialdm.org", "/questionnaires"),
    Shot(
        "questionnaire-history",
        "rw.bu@demo.trialdm.org",
        "/questionnaires",
        lambda page: (
            first_link("table.list tbody a")(page),
            first_link("a[href$='/history']")(page),
        ),
    ),
    Shot(
        "focus-group",
        "lead.bu@demo.trialdm.org",
        "/qualitative",
        first_link("table.list tbody a"),
    ),
    Shot("translation-queue", "translator.bu@demo.trialdm.org", "/translation/"),
    Shot(
        "translation-editor",
        "translator.bu@demo.trialdm.org",
        "/translation/",
        first_link("ul.queue a[href*='/translation/translations/']"),
    ),
    Shot(
        "translation-editor-bgu",
        "translator.bgu@demo.trialdm.org",
        "/translation/",
        first_link("a[href*='/translation/translations/']"),
    ),
    Shot(
        "transcript",
        "lead.bu@demo.trialdm.org",
        "/translation/",
        first_link("a[href*='/translation/transcripts/']"),
    ),
    Shot(
        "transcript-check",
        "reviewer.bu@demo.trialdm.org",
        "/",
        first_link("#widget-translation_queue a[href*='/translation/transcripts/']"),
    ),
    Shot("transcript-new", "translator.bu@demo.trialdm.org", "/translation/transcripts/new"),
    Shot("site-log", "lead.bu@demo.trialdm.org", "/audit/log"),
    Shot("trial-log", "coordinator@demo.trialdm.org", "/audit/log"),
    Shot("reminders", "lead.bu@demo.trialdm.org", "/reminders"),
    Shot("reminders-found", "lead.bu@demo.trialdm.org", "/reminders/found"),
    Shot("exports", "coordinator@demo.trialdm.org", "/exports"),
    Shot("data-exports", "statistician@demo.trialdm.org", "/exports/data"),
    Shot(
        "summary-table",
        "coordinator@demo.trialdm.org",
        "/exports",
        lambda page: (
            page.click("main form button[type=submit]"),
            # built by a thread as a worker would (tasks_in_background): up to minutes
            page.wait_for_selector("a[href*='/tables/']", timeout=180_000),
            first_link("a[href*='/tables/']")(page),
        ),
    ),
]
LANGUAGES = ("en", "de", "he")
SHOTS = [Shot("login", None, "/login")] + [
    Shot(f"{shot.name}-{language}", shot.user, shot.path, shot.prepare, language)
    for language in LANGUAGES
    for shot in PAGES
]


def take(
    browser: Any, base: str, out: Path, names: Sequence[str] = ()
) -> tuple[list[Path], list[str]]:
    """Every shot at both widths; a shot that fails is reported and the others taken."""
    written: list[Path] = []
    failed: list[str] = []
    shots = [s for s in SHOTS if not names or s.name.startswith(tuple(names))]
    for width_name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        for shot in shots:
            try:
                path = take_one(browser, base, out, shot, width_name, viewport)
            except Exception as exc:  # reported; the other shots go on
                failed.append(f"{shot.name}-{width_name}: {str(exc).splitlines()[0]}")
                print(f"failed: {failed[-1]}", file=sys.stderr)
                continue
            if path is not None:
                written.append(path)
    return written, failed


def take_one(
    browser: Any, base: str, out: Path, shot: Shot, width_name: str, viewport: dict
) -> Path | None:
    context = browser.new_context(viewport=viewport, locale="en-GB")
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        if shot.language != "en":
            page.goto(base + "/login")
            with page.expect_navigation():
                page.select_option("#language", shot.language)
        if shot.user:
            if shot.language == "en":
                page.goto(base + "/login")
            page.fill("#email", shot.user)
            page.fill("#password", PASSWORD)
            page.click("form.stack button[type=submit]")
            page.wait_for_load_state()
        response = page.goto(base + shot.path)
        if response is None or response.status == 404:
            return None  # that area's pages are not installed
        if shot.prepare:
            shot.prepare(page)
            page.wait_for_load_state()
        path = out / f"{shot.name}-{width_name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path
    finally:
        context.close()


def tasks_in_background() -> None:
    """Run queued tasks in a thread of their own after the request, as a worker would,
    instead of eagerly inside it (which holds SQLite's lock while a build reports its
    progress on a connection of its own)."""
    import threading

    import trialdm.core.http
    from trialdm.core.tasks import _READY
    from trialdm.extensions import celery, db

    def later(tasks: list) -> None:
        celery.loader.import_default_modules()
        for name, args in tasks:
            celery.tasks[name].apply(args=list(args))

    def run_in_background() -> None:
        ready = db.session.info.pop(_READY, None)
        if ready:
            threading.Thread(target=later, args=(list(ready),), daemon=True).start()

    trialdm.core.http.run_eager_tasks = run_in_background  # type: ignore[assignment]


def main(argv: list[str]) -> int:
    missing = browser_missing()
    if missing:
        print(f"cannot take screenshots: {missing}", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    from tests.browser.live import build_live_app

    out = Path(argv[0] if argv else "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        app = build_live_app(Path(tmp), "screenshots")
        tasks_in_background()
        with serving(app) as base, sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            written, failed = take(browser, base, out, argv[1:])
            browser.close()
    for path in written:
        print(path)
    print(f"{len(written)} screenshots in {out}/" + (f", {len(failed)} failed" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
