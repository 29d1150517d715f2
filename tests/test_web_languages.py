"""Every role's main pages in German and Hebrew hold no English outside data.

The demo data is loaded and each page is read as each role sees it. Text inside data
containers (``<bdi>``, ``dir="auto"``/``"ltr"``, ``lang="en"``, form controls, times)
is data: study IDs, names, dates, what people typed. Everything else must be in the
page's language; the few words allowed in both are listed. Areas whose text is data
written in English are left out by name: reminder texts (written by the scans), the
titles of instruments without a translation and of table specs, material titles.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from tests.web_helpers import PASSWORD
from trialdm.demo.operations import load_demo

VOID = {"br", "input", "img", "meta", "link", "hr", "source", "col", "area", "wbr"}
DATA_TAGS = {"script", "style", "bdi", "time", "textarea", "option", "select", "svg", "code"}
# English-looking words that are the same in both languages, or proper names
ALLOWED = {
    "API",
    "PSW",
    "UTC",
    "Online",
    "Export",
    "Position",
    "Status",
    "Monitor",
    "Filter",
    "Butabika",
    "Dar",
    "Salaam",
    "Pune",
    "Ulm",
    "Guenzburg",
    "Hamburg",
    "Sheva",
    "Be'er",
    "Deutsch",
    "English",
    "Kiswahili",
    "Video",
}
# (path, what to leave out: data areas written in English, by their element id or class)
PAGES = {
    "research_worker": ["/", "/participants", "/contacts", "/contacts/new", "/translation/"],
    "site_lead": ["/", "/participants", "/audit/log", "/qualitative", "/translation/"],
    "translator": ["/", "/translation/"],
    "reviewer": ["/", "/translation/"],
    "coordinator": ["/", "/participants", "/contacts", "/audit/log"],
}
LEFT_OUT = ("widget-inbox", "queue", "materials")


class VisibleText(HTMLParser):
    """The text of ``<main>`` outside data containers and the left-out areas."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, bool]] = []
        self.words: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            return
        a = dict(attrs)
        classes = set((a.get("class") or "").split())
        data = (
            tag in DATA_TAGS
            or a.get("dir") in ("ltr", "auto")
            or a.get("lang") == "en"
            or a.get("id") in LEFT_OUT
            or bool(classes & set(LEFT_OUT))
            or (tag == "a" and "/translation/translations/" in (a.get("href") or ""))
        )
        self.stack.append((tag, data))

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        inside = [t for t, _ in self.stack]
        if "main" in inside and not any(d for _, d in self.stack):
            self.words += re.findall(r"[A-Za-z][A-Za-z']{2,}", data)


def english_on(client, path: str) -> set[str]:
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    parser = VisibleText()
    parser.feed(page.get_data(as_text=True))
    # site codes (BU, ULM) are identifiers, as study IDs are
    return {w for w in parser.words if w not in ALLOWED and not re.fullmatch(r"[A-Z]{2,4}", w)}


def test_main_pages_of_every_role_are_in_german_and_hebrew(app, db_session):
    from trialdm.auth.operations import create_user

    for _ in load_demo(db_session, seed=7):
        pass
    users = {
        role: create_user(
            db_session, f"{role}@test.org", role, [] if role == "coordinator" else ["BU"], PASSWORD
        )
        for role in PAGES
    }
    db_session.commit()
    found: dict[str, set[str]] = {}
    for language in ("de", "he"):
        for role, paths in PAGES.items():
            client = app.test_client()
            client.post("/language", data={"language": language})
            client.post("/login", data={"email": users[role].email, "password": PASSWORD})
            for path in paths:
                words = english_on(client, path)
                if language == "de":
                    # German shares letters with English: only English words count
                    words = {w for w in words if w.lower() in ENGLISH_ONLY}
                if words:
                    found[f"{language} {role} {path}"] = words
    assert not found, found


# Words that are English and not German (the German check looks for these only).
ENGLISH_ONLY = {
    "the",
    "and",
    "of",
    "with",
    "for",
    "not",
    "was",
    "are",
    "has",
    "your",
    "yet",
    "due",
    "this",
    "that",
    "from",
    "by",
    "no",
    "new",
    "all",
    "save",
    "edit",
    "delete",
    "record",
    "search",
    "next",
    "previous",
    "participants",
    "contacts",
    "questionnaires",
    "history",
    "reminders",
    "yes",
    "nothing",
    "returned",
    "approved",
    "pending",
    "overdue",
    "upcoming",
    "done",
    "submitted",
    "checked",
    "translated",
    "recorded",
    "transcribed",
    "enrolled",
    "withdrawn",
    "completed",
    "group",
    "individual",
    "phone",
    "video",
    "messaging",
    "site",
    "sites",
    "date",
    "changes",
    "change",
    "who",
    "what",
    "when",
    "log",
}


def test_error_pages_and_domain_errors_in_the_language(app, make_user):
    from tests.web_helpers import page_as

    client = page_as(app, make_user, "research_worker", ["BU"])
    client.post("/language", data={"language": "de"})
    missing = client.get("/participants/987654")
    assert missing.status_code == 404
    assert "<h1>Nicht gefunden</h1>" in missing.get_data(as_text=True)
    client.post("/language", data={"language": "he"})
    hebrew = client.get("/participants/987654").get_data(as_text=True)
    assert "<h1>לא נמצא</h1>" in hebrew


def test_numbers_dates_and_data_on_the_pages_follow_the_language(app):
    from datetime import date

    from flask_babel import refresh
    from markupsafe import Markup

    from trialdm.web.i18n import text_direction
    from trialdm.web.labels import format_day, format_number, format_percent, isolated

    with app.test_request_context(headers={"Accept-Language": "de"}):
        refresh()
        assert format_number(1234.5) == "1.234,5"
        assert format_percent(40) == "40\xa0%"
        assert format_day(date(2025, 5, 2)) == "02.05.2025"
    with app.test_request_context(headers={"Accept-Language": "he"}):
        refresh()
        assert format_day(date(2025, 5, 2)) == "2 במאי 2025"
        assert isolated("BU-0001") == Markup("<bdi>BU-0001</bdi>")
        assert isolated("<b>") == Markup("<bdi>&lt;b&gt;</bdi>")
    # direction from CLDR: a new right-to-left language needs no list
    assert [text_direction(code) for code in ("he", "ar", "ur", "de", "sw")] == [
        "rtl",
        "rtl",
        "rtl",
        "ltr",
        "ltr",
    ]
