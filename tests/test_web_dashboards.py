"""Dashboards by role on the demo data: each role's daily work comes first, the
reminders last and folded, and a queue with work in it is never called empty."""

from __future__ import annotations

import re

import pytest

from tests.web_helpers import PASSWORD
from trialdm.demo.operations import load_demo

# role -> the widget that must stand first (its daily work)
FIRST = {
    "research_worker": "fidelity",
    "site_lead": "fidelity",
    "translator": "translation_queue",
    "reviewer": "translation_queue",
    "coordinator": "participants",
    "monitor": "queries",
    "statistician": "allocations",
}
ALL_SITES = ("coordinator", "monitor", "statistician")


@pytest.fixture
def boards(app, db_session):
    from trialdm.auth.operations import create_user

    for _ in load_demo(db_session, seed=7):
        pass
    users = {
        role: create_user(
            db_session, f"{role}@board.test", role, [] if role in ALL_SITES else ["BU"], PASSWORD
        )
        for role in FIRST
    }
    db_session.commit()
    pages = {}
    for role, user in users.items():
        client = app.test_client()
        client.post("/login", data={"email": user.email, "password": PASSWORD})
        pages[role] = client.get("/").get_data(as_text=True)
    return pages


def widgets(page: str) -> list[str]:
    return re.findall(r'<section class="widget" id="widget-([a-z_]+)"', page)


def test_each_roles_daily_work_comes_first_and_the_reminders_last(boards):
    for role, first in FIRST.items():
        shown = widgets(boards[role])
        assert shown[0] == first, (role, shown)
        assert shown[-1] == "inbox", (role, shown)
    # a research worker: at-risk participants and due assessments before the charts
    worker = widgets(boards["research_worker"])
    assert worker[:2] == ["fidelity", "schedule"]
    assert worker.index("schedule") < worker.index("participants")
    # folded, the count in the summary line
    inbox = boards["research_worker"].split('id="widget-inbox"')[1]
    assert re.search(
        r'<details class="widget-fold">\s*<summary><h2>[^<]*<span class="badge">\d+', inbox
    )


@pytest.mark.parametrize("role", ["translator", "reviewer"])
def test_translator_and_reviewer_see_their_queue_counted_never_called_empty(boards, role):
    page = boards[role]
    queue = page.split('id="widget-translation_queue"')[1].split("</section>")[0]
    count = int(re.search(r'<span class="badge">(\d+)</span>', queue).group(1))
    items = len(re.findall(r"<li>", queue))
    assert count == items > 0, (count, items)
    assert "Nothing is waiting for you." not in page
    assert "Nothing new" not in page
