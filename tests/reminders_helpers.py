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
                f"/participants/{pid}",
            )
            for pid, study_id in rows
        ]


def build_separate_app(tmp_path, label: str, **overrides):
    """An app on its own committed database (threads, subprocesses), leaving the shared
    Celery object bound to the suite's app."""
    from tests.conftest import build_app, rebind_celery
    from trialdm.extensions import celery

    previous = getattr(celery, "flask_app", None)
    app = build_app(tmp_path, label, **overrides)
    if previous is not None:
        rebind_celery(previous)
    return app


def use_test_rule(monkeypatch, app) -> EnrolledServiceUsers:
    """Register the test rule and switch off the domain rules (the weekly digests stay),
    so a test of the machinery sees only what it set up."""
    from trialdm.reminders.rules import DIGEST_RULES, RULES

    rule = EnrolledServiceUsers()
    monkeypatch.setitem(RULES, rule.name, rule)
    others = tuple(name for name in RULES if name not in (rule.name, *DIGEST_RULES))
    monkeypatch.setitem(app.config, "REMINDER_DISABLED_RULES", others)
    return rule
