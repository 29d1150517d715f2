"""Assessment rules at their edges: window opens, due within days, overdue."""

from __future__ import annotations

from datetime import date

import pytest

from tests.seeders.instruments import sync_shipped
from trialdm.reminders import operations

# enrolled 2025-01-31: T1 due 2025-05-31, window 2025-05-17 .. 2025-06-14


@pytest.fixture
def participant(db_session, make_participant):
    sync_shipped(db_session)
    db_session.commit()
    return make_participant("BU", enrolment_date=date(2025, 1, 31), arm="control")


def found(session, day: date, rule: str) -> dict[str, str]:
    return {
        p.subject_id: p.period
        for p in operations.plan_reminders(session, "BU", day)
        if p.rule == rule
    }


@pytest.mark.parametrize(
    ("day", "due", "soon", "overdue"),
    [
        (date(2025, 5, 16), False, False, False),  # the day before the window opens
        (date(2025, 5, 17), True, False, False),  # window opens
        (date(2025, 5, 23), True, False, False),  # due in 8 days
        (date(2025, 5, 24), True, True, False),  # due in 7 days
        (date(2025, 5, 31), True, True, False),  # the due date
        (date(2025, 6, 1), False, False, True),  # the day after
        (date(2025, 6, 14), False, False, True),  # window's last day
        (date(2025, 6, 15), False, False, False),  # missed: the window closed
    ],
)
def test_assessment_edges(db_session, participant, day, due, soon, overdue):
    key = f"{participant.id}:T1"
    assert (key in found(db_session, day, "assessment_due")) is due
    assert (key in found(db_session, day, "assessment_due_soon")) is soon
    assert (key in found(db_session, day, "assessment_overdue")) is overdue


def test_assessment_reminders_come_once_per_event(db_session, participant, make_user):
    make_user("research_worker", ["BU"])
    first = operations.scan_site(db_session, "BU", date(2025, 5, 17))
    assert [(p.rule, p.subject_id, p.title) for p in first.planned] == [
        (
            "assessment_due",
            f"{participant.id}:T1",
            f"{participant.study_id}: T1 assessment due by May 31, 2025",
        ),
    ]
    assert operations.scan_site(db_session, "BU", date(2025, 5, 18)).created == 0
    later = operations.scan_site(db_session, "BU", date(2025, 5, 25))
    assert [p.rule for p in later.planned if later.created] == [
        "assessment_due",
        "assessment_due_soon",
    ]
    assert later.created == 1
