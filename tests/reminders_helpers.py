"""Helpers shared by the reminder tests: a frozen clock and a rule over participants,
so the scan, delivery and mail machinery can be tested apart from the domain rules."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import time_machine
from sqlalchemy import select

from trialdm.participants.models import Participant
from trialdm.reminders.rules import Finding, Rule


def frozen(*args: int):
    """``frozen(2026, 11, 23, 5, 30)``: the clock stands still at that UTC moment."""
    return time_machine.travel(datetime(*args, tzinfo=UTC), tick=False)


class EnrolledServiceUsers(Rule):
    """Test rule: every enrolled service user of the site, once per month."""

    name = "test_enrolled"
    label = "Test: enrolled service users"

    def findings(self, session, scan) -> Iterable[Finding]:
        rows = session.execute(
            select(Participant.id, Participant.study_id).where(
                Participant.site_code == scan.site_code,
                Participant.category == "service_user",
                Participant.enrolment_date.is_not(None),
            )
        ).all()
        month = scan.local_date.strftime("%Y-%m")
        return [
            Finding(
                "participant",
                str(pid),
                month,
                f"Check {study_id}",
                f"{study_id} is enrolled.",
                f"/api/v1/participants/{pid}",
            )
            for pid, study_id in rows
        ]
