"""Query reminders: an open query reminds the site team, an answered one whoever
opened it, each once a week after REMINDER_QUERY_DAYS days."""

from __future__ import annotations

from datetime import date, timedelta

from tests.quality_helpers import enrolled_with_baseline
from trialdm.reminders import operations


def found(session, day: date, rule: str) -> dict[str, operations.PlannedReminder]:
    return {
        p.subject_id: p for p in operations.plan_reminders(session, "BU", day) if p.rule == rule
    }


def test_open_and_answered_queries_remind_the_right_people(
    api_as, db_session, make_participant, make_user
):
    _, response = enrolled_with_baseline(db_session, make_participant)
    worker = make_user("research_worker", ["BU"])
    lead = make_user("site_lead", ["BU"])
    monitor = api_as("monitor", ["BU"])
    first = monitor.post(
        "/api/v1/queries", json={"response_id": response.id, "field": "employment", "question": "?"}
    ).json
    second = monitor.post(
        "/api/v1/queries", json={"response_id": response.id, "question": "Date?"}
    ).json
    api_as("research_worker", user=worker).post(
        f"/api/v1/queries/{second['id']}/answer", json={"text": "ok"}, headers={"If-Match": '"1"'}
    )
    today = date.today()
    assert found(db_session, today, "query_open") == {}  # not three days yet
    later = today + timedelta(days=4)
    waiting = found(db_session, later, "query_open")
    assert set(waiting) == {str(first["id"])}
    assert sorted(waiting[str(first["id"])].recipients) == sorted([worker.id, lead.id])
    assert "(employment)" in waiting[str(first["id"])].title
    answered = found(db_session, later, "query_answered")
    assert set(answered) == {str(second["id"])}
    assert answered[str(second["id"])].recipients == [monitor.user.id]
