"""PSW contact rules at their edges: at risk, window closing, no contact for a while."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from trialdm.contacts.operations import create_contact_session
from trialdm.contacts.queries import fidelity_for
from trialdm.core.audit import audit_context
from trialdm.core.scoping import all_sites
from trialdm.reminders import operations
from trialdm.reminders.rules import iso_week

START = date(2026, 6, 1)  # window 2026-06-01 .. 2026-12-01, both inclusive


@pytest.fixture
def psw(make_participant):
    return make_participant("BU", "psw", training_completed=date(2024, 1, 2))


@pytest.fixture
def contact(db_session, psw):
    def record(on: date, *people):
        with all_sites():
            create_contact_session(
                db_session,
                {
                    "site": "BU",
                    "psws": [psw.id],
                    "date": on,
                    "format": "group" if len(people) > 1 else "individual",
                    "mode": "in_person",
                    "attendees": [p.id for p in people],
                },
            )
            db_session.commit()

    return record


@pytest.fixture
def enrol(make_participant):
    def make(site="BU", **fields):
        fields.setdefault("enrolment_date", START)
        return make_participant(site, "service_user", **fields)

    return make


def found(session, day: date, rule: str, site: str = "BU") -> dict[str, tuple[str, str]]:
    """subject id -> (period, title) of what ``rule`` finds at ``site`` on ``day``."""
    return {
        p.subject_id: (p.period, p.title)
        for p in operations.plan_reminders(session, site, day)
        if p.rule == rule
    }


def test_at_risk_follows_the_fidelity_status_weekly(db_session, enrol, contact, make_user):
    rw = make_user("research_worker", ["BU"])
    lead = make_user("site_lead", ["BU"])
    behind = enrol(intervention_start=START)
    enrol(arm="control")
    enrol("ULM", intervention_start=START)
    contact(date(2026, 6, 2), behind)
    # the day the fidelity rule turns at_risk is where the reminder starts
    days = [START + timedelta(days=n) for n in range(0, 183)]
    status = {day: fidelity_for(db_session, [behind.id], day)[behind.id]["status"] for day in days}
    first_at_risk = min(day for day in days if status[day] == "at_risk")
    assert found(db_session, first_at_risk - timedelta(days=1), "psw_at_risk") == {}
    reminders = found(db_session, first_at_risk, "psw_at_risk")
    period, title = reminders[str(behind.id)]
    assert list(reminders) == [str(behind.id)]
    assert title == f"{behind.study_id}: PSW contacts behind (1 of 3)"
    assert period == iso_week(first_at_risk)
    planned = operations.plan_reminders(db_session, "BU", first_at_risk)
    assert planned[0].recipients == sorted([rw.id, lead.id])


def test_window_closing_edges(db_session, enrol, contact):
    short = enrol(intervention_start=START)
    reached = enrol(intervention_start=START)
    contact(date(2026, 6, 5), short, reached)
    contact(date(2026, 7, 5), reached)
    contact(date(2026, 8, 5), reached)
    end = date(2026, 12, 1)
    assert fidelity_for(db_session, [short.id], end)[short.id]["window_end"] == end
    assert found(db_session, end - timedelta(days=15), "psw_window_closing") == {}
    for day in (end - timedelta(days=14), end):
        assert found(db_session, day, "psw_window_closing") == {
            str(short.id): (
                "window-2026-12-01",
                f"{short.study_id}: intervention window closes Dec 1, 2026",
            )
        }
    assert found(db_session, end + timedelta(days=1), "psw_window_closing") == {}


def test_no_contact_edges(db_session, enrol, contact):
    quiet = enrol()
    never = enrol(enrolment_date=date(2026, 9, 1))
    withdrawn = enrol()
    contact(date(2026, 9, 1), quiet, withdrawn)
    with audit_context(reason="withdrew"):
        withdrawn.status = "withdrawn"
        withdrawn.withdrawal_date = date(2026, 9, 5)
        withdrawn.withdrawal_reason = "moved away"
        db_session.commit()
    assert found(db_session, date(2026, 9, 30), "psw_no_contact") == {}
    reminders = found(db_session, date(2026, 10, 1), "psw_no_contact")
    assert reminders == {
        str(quiet.id): ("since-2026-09-01", f"{quiet.study_id}: no PSW contact for 30 days"),
        str(never.id): ("since-2026-09-01", f"{never.study_id}: no PSW contact for 30 days"),
    }
    # the same silence is the same reminder; a new contact starts a new one
    later = found(db_session, date(2026, 10, 20), "psw_no_contact")
    assert later[str(quiet.id)][0] == "since-2026-09-01"
    contact(date(2026, 10, 2), quiet)
    assert str(quiet.id) not in found(db_session, date(2026, 10, 31), "psw_no_contact")
    assert found(db_session, date(2026, 11, 1), "psw_no_contact")[str(quiet.id)][0] == (
        "since-2026-10-02"
    )


def test_contact_rules_scan_once_per_period(db_session, enrol, make_user):
    make_user("research_worker", ["BU"])
    enrol(intervention_start=START)
    first = operations.scan_site(db_session, "BU", date(2026, 9, 1))
    again = operations.scan_site(db_session, "BU", date(2026, 9, 2))
    assert {p.rule for p in first.planned} == {"psw_at_risk", "psw_no_contact"}
    assert first.created == 2 and again.created == 0
