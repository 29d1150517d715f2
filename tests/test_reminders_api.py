"""The inbox API: one's own reminders only, read and unread, snooze with a date."""

from __future__ import annotations

from datetime import date

import pytest

from tests.reminders_helpers import frozen, use_test_rule
from trialdm.reminders import operations


@pytest.fixture
def inbox(app, db_session, api_as, make_participant, monkeypatch):
    """Two reminders at BU in a BU research worker's inbox; one at ULM elsewhere."""
    use_test_rule(monkeypatch, app)
    rw = api_as("research_worker", ["BU"])
    colleague = api_as("research_worker", ["BU"])
    ulm = api_as("research_worker", ["ULM"])
    for site in ("BU", "BU", "ULM"):
        make_participant(site, "service_user", enrolment_date=date(2026, 6, 1))
    for site in ("BU", "ULM"):
        operations.scan_site(db_session, site, date(2026, 11, 24))
    db_session.commit()
    return rw, colleague, ulm


def titles(response) -> list[str]:
    assert response.status_code == 200, response.json
    return [item["title"] for item in response.json["items"]]


def test_inbox_lists_only_my_reminders(inbox):
    rw, _, ulm = inbox
    mine = rw.get("/api/v1/reminders")
    assert len(titles(mine)) == 2
    item = mine.json["items"][0]
    assert item["site"] == "BU" and item["rule"] == "test_enrolled" and item["read_at"] is None
    assert item["title"].startswith("Check BU-")
    assert [t[:8] for t in titles(ulm.get("/api/v1/reminders"))] == ["Check UL"]
    assert titles(rw.get("/api/v1/reminders?site=ULM")) == []
    bad = rw.get("/api/v1/reminders?state=whenever")
    assert bad.status_code == 422 and "state" in bad.json["errors"]


def test_mark_read_and_unread(inbox):
    rw, colleague, _ = inbox
    entry = rw.get("/api/v1/reminders").json["items"][0]
    read = rw.post(f"/api/v1/reminders/{entry['id']}/read")
    assert read.status_code == 200 and read.json["read_at"] is not None
    assert len(titles(rw.get("/api/v1/reminders"))) == 1
    assert titles(rw.get("/api/v1/reminders?state=read")) == [entry["title"]]
    # reading is per person: the colleague still has both unread
    assert len(titles(colleague.get("/api/v1/reminders"))) == 2
    # and nobody can mark someone else's entry
    assert colleague.post(f"/api/v1/reminders/{entry['id']}/read").status_code == 404
    unread = rw.delete(f"/api/v1/reminders/{entry['id']}/read")
    assert unread.status_code == 200 and unread.json["read_at"] is None
    assert len(titles(rw.get("/api/v1/reminders"))) == 2


def test_snooze_hides_until_the_day(inbox):
    rw, _, _ = inbox
    entry = rw.get("/api/v1/reminders").json["items"][0]
    url = f"/api/v1/reminders/{entry['id']}/snooze"
    with frozen(2026, 11, 24, 9):
        past = rw.post(url, json={"until": "2026-11-24"})
        assert past.status_code == 422 and "until" in past.json["errors"]
        assert rw.post(url, json={"until": "2026-11-26", "x": 1}).status_code == 422
        snoozed = rw.post(url, json={"until": "2026-11-26"})
        assert snoozed.status_code == 200 and snoozed.json["snoozed_until"] == "2026-11-26"
        assert len(titles(rw.get("/api/v1/reminders"))) == 1
        assert titles(rw.get("/api/v1/reminders?state=snoozed")) == [entry["title"]]
    with frozen(2026, 11, 26, 0, 1):
        assert len(titles(rw.get("/api/v1/reminders"))) == 2
    with frozen(2026, 11, 25, 9):
        woken = rw.post(url, json={"until": None})
        assert woken.status_code == 200 and woken.json["snoozed_until"] is None
        assert len(titles(rw.get("/api/v1/reminders"))) == 2


def test_found_lists_reminders_of_my_sites(inbox, api_as):
    rw, _, _ = inbox
    assert [i["site"] for i in rw.get("/api/v1/reminders/found").json["items"]] == ["BU", "BU"]
    coordinator = api_as("coordinator")
    found = coordinator.get("/api/v1/reminders/found?rule=test_enrolled&sort=site")
    assert [i["site"] for i in found.json["items"]] == ["BU", "BU", "ULM"]
    assert found.json["items"][0]["recipients"] == 2
