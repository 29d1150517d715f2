"""The reminder inbox pages: the dashboard widget and the inbox (read, unread, snooze)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from tests.web_helpers import login
from trialdm.core.models import utcnow
from trialdm.reminders.models import InboxEntry, Reminder


def deliver(db_session, user, site: str, title: str, link: str = "") -> InboxEntry:
    reminder = Reminder(
        site_code=site,
        rule="psw_at_risk",
        subject_type="participant",
        subject_id="1",
        period="2026-W48",
        dedupe_key=f"test:{uuid.uuid4().hex}",
        title=title,
        body="Behind the steady pace.",
        link=link,
        recipients=[user.id],
        local_date=date(2026, 11, 23),
        status="delivered",
    )
    db_session.add(reminder)
    db_session.flush()
    entry = InboxEntry(reminder_id=reminder.id, user_id=user.id, site_code=site, mail="daily")
    db_session.add(entry)
    db_session.commit()
    return entry


def test_dashboard_widget_and_inbox_mark_read_and_unread(
    app, make_user, make_participant, db_session
):
    user = make_user("research_worker", ["BU"])
    participant = make_participant("BU")
    entry = deliver(
        db_session,
        user,
        "BU",
        "BU-0001 is behind",
        f"/api/v1/contact-sessions?participant_id={participant.id}",
    )
    client = login(app.test_client(), user)
    home = client.get("/").get_data(as_text=True)
    assert "BU-0001 is behind" in home
    assert f'href="/participants/{participant.id}"' in home
    assert f'action="/reminders/{entry.id}/read"' in home

    inbox = client.get("/reminders").get_data(as_text=True)
    assert "BU-0001 is behind" in inbox and "Behind the steady pace." in inbox

    done = client.post(f"/reminders/{entry.id}/read", data={"next": "/reminders"})
    assert done.status_code == 302 and done.headers["Location"] == "/reminders"
    db_session.refresh(entry)
    assert entry.read_at is not None
    assert "BU-0001 is behind" not in client.get("/reminders").get_data(as_text=True)
    assert "BU-0001 is behind" not in client.get("/").get_data(as_text=True)
    read_tab = client.get("/reminders?state=read").get_data(as_text=True)
    assert "BU-0001 is behind" in read_tab and "Mark unread" in read_tab

    client.post(f"/reminders/{entry.id}/read", data={"unread": "1", "next": "//evil.test"})
    db_session.refresh(entry)
    assert entry.read_at is None
    assert "BU-0001 is behind" in client.get("/reminders").get_data(as_text=True)


def test_snooze_until_a_day_and_errors(app, make_user, db_session):
    user = make_user("site_lead", ["BU"])
    entry = deliver(db_session, user, "BU", "Weekly digest")
    client = login(app.test_client(), user)
    form = client.get("/reminders").get_data(as_text=True)
    assert f'id="until-{entry.id}" name="until"' in form

    today = utcnow().date()
    refused = client.post(f"/reminders/{entry.id}/snooze", data={"until": today.isoformat()})
    assert refused.status_code == 422
    assert "Snooze until a day after today." in refused.get_data(as_text=True)
    db_session.refresh(entry)
    assert entry.snoozed_until is None
    garbled = client.post(f"/reminders/{entry.id}/snooze", data={"until": "next week"})
    assert garbled.status_code == 422

    until = today + timedelta(days=3)
    done = client.post(f"/reminders/{entry.id}/snooze", data={"until": until.isoformat()})
    assert done.status_code == 302
    db_session.refresh(entry)
    assert entry.snoozed_until == until
    assert "Weekly digest" not in client.get("/reminders").get_data(as_text=True)
    assert "Weekly digest" in client.get("/reminders?state=snoozed").get_data(as_text=True)


def test_only_ones_own_reminders(app, make_user, db_session):
    anonymous = app.test_client().get("/reminders")
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"].startswith("/login?next=")
    owner = make_user("site_lead", ["BU"])
    entry = deliver(db_session, owner, "BU", "Private to the owner")
    colleague = login(app.test_client(), make_user("site_lead", ["BU"]))
    assert "Private to the owner" not in colleague.get("/reminders?state=all").get_data(
        as_text=True
    )
    assert colleague.post(f"/reminders/{entry.id}/read").status_code == 404
    assert colleague.post(f"/reminders/{entry.id}/snooze", data={"until": ""}).status_code == 404
    db_session.refresh(entry)
    assert entry.read_at is None and entry.snoozed_until is None
