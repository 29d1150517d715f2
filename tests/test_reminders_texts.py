"""Reminder texts are stored as a message id with values and read in the reader's
language: the API by Accept-Language, else the user's language; e-mails in the
recipient's language; dates formatted for the language; older rows as stored."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import pytest
from babel.dates import format_date
from sqlalchemy import select

from tests.reminders_helpers import use_test_rule
from trialdm.core.models import utcnow
from trialdm.reminders import operations
from trialdm.reminders.models import InboxEntry, OutboxMessage, Reminder
from trialdm.reminders.rules import RULES, Finding, Rule
from trialdm.reminders.texts import text

CLOSES = date(2026, 12, 1)
DAY = date(2026, 11, 24)


class WindowClosing(Rule):
    """Test rule with a text of the catalogs: every enrolled service user of the site."""

    name = "test_enrolled"
    label = "Test: window closing"

    def findings(self, session, scan) -> Iterable[Finding]:
        from trialdm.participants.models import Participant

        rows = session.execute(
            select(Participant.id, Participant.study_id).where(
                Participant.site_code == scan.site_code
            )
        ).all()
        return [
            Finding(
                "participant",
                str(pid),
                "once",
                text("%(study_id)s: intervention window closes %(end)s", study_id=sid, end=CLOSES),
                text("no contact since %(day)s", day=CLOSES),
                f"/participants/{pid}",
            )
            for pid, sid in rows
        ]


@pytest.fixture
def rule(app, monkeypatch):
    use_test_rule(monkeypatch, app)  # the domain rules off, "test_enrolled" on
    rule = WindowClosing()
    monkeypatch.setitem(RULES, rule.name, rule)
    return rule


def test_api_answers_in_the_requested_then_the_users_language(
    app, db_session, api_as, make_user, make_participant, rule
):
    hebrew = make_user("research_worker", ["BU"])
    hebrew.locale = "he"
    rw = api_as("research_worker", ["BU"])
    he = api_as("research_worker", ["BU"], user=hebrew)
    person = make_participant("BU", "service_user", enrolment_date=date(2026, 6, 1))
    operations.scan_site(db_session, "BU", DAY)
    db_session.commit()

    stored = db_session.scalar(select(Reminder))
    assert stored.message["title"]["values"] == {
        "study_id": person.study_id,
        "end": {"date": "2026-12-01"},
    }
    english = rw.get("/api/v1/reminders").json["items"][0]
    assert english["title"] == f"{person.study_id}: intervention window closes Dec 1, 2026"
    german = rw.get("/api/v1/reminders", headers={"Accept-Language": "de"}).json["items"][0]
    assert german["title"] == (
        f"{person.study_id}: Interventionsfenster schließt am "
        f"{format_date(CLOSES, 'medium', locale='de')}"
    )
    assert german["body"] == f"kein Kontakt seit {format_date(CLOSES, 'medium', locale='de')}"
    # no Accept-Language: the user's own language
    own = he.get("/api/v1/reminders").json["items"][0]
    assert own["title"].startswith(f"{person.study_id}: חלון ההתערבות נסגר")
    assert format_date(CLOSES, "medium", locale="he") in own["title"]


def test_mail_goes_out_in_the_recipients_language(
    app, db_session, make_user, make_participant, rule
):
    german = make_user("research_worker", ["BU"])
    german.locale = "de"
    german.mail_preference = "immediate"
    make_participant("BU", "service_user", enrolment_date=date(2026, 6, 1))
    operations.scan_site(db_session, "BU", DAY)
    db_session.commit()
    message = db_session.scalar(select(OutboxMessage).where(OutboxMessage.user_id == german.id))
    assert "Interventionsfenster schließt am" in message.subject
    assert "Sie erhalten dies als Mitglied des Studienteams" in message.body
    assert f"{app.config['BASE_URL'].rstrip('/')}/participants/" in message.body


def test_reminders_stored_as_words_stay_readable(app, db_session, api_as):
    rw = api_as("research_worker", ["BU"])
    reminder = Reminder(
        rule="old_rule",
        subject_type="participant",
        subject_id="1",
        period="p",
        dedupe_key="old_rule:participant:1:p",
        title="Stored before texts had ids",
        body="Old words",
        link="/participants/1",
        recipients=[rw.user.id],
        local_date=DAY,
        site_code="BU",
        status="delivered",
        created_at=utcnow(),
    )
    db_session.add(reminder)
    db_session.flush()
    db_session.add(
        InboxEntry(reminder_id=reminder.id, user_id=rw.user.id, site_code="BU", mail="daily")
    )
    db_session.commit()
    item = rw.get("/api/v1/reminders", headers={"Accept-Language": "de"}).json["items"][0]
    assert (item["title"], item["body"]) == ("Stored before texts had ids", "Old words")


def test_values_are_said_for_the_language_whatever_their_kind(app):
    from trialdm.reminders.texts import forget_catalogs, render

    stored = text(
        "%(who)s %(count)s %(share)s %(flag)s %(day)s (%(inner)s)",
        who="BU-0001",
        count=1234,
        share=0.5,
        flag=True,
        day=CLOSES,
        inner=text("last contact %(day)s", day=CLOSES),
    )
    english = f"BU-0001 1,234 0.5 True {format_date(CLOSES, 'medium', locale='en')}"
    assert render(stored, "en") == f"{english} (last contact Dec 1, 2026)"
    assert render(stored, "de").startswith("BU-0001 1.234 0,5 True 01.12.2026")
    # a message said once per language stays said until the catalogs are dropped
    title = text("%(study_id)s: intervention window closes %(end)s", study_id="X", end=CLOSES)
    assert render(title, "de") == "X: Interventionsfenster schließt am 01.12.2026"
    forget_catalogs()
    assert render(title, "de") == "X: Interventionsfenster schließt am 01.12.2026"
    assert render(text("%(n)s"), "en") == "%(n)s"  # no values: said as it is
