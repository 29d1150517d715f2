"""Fidelity of a participant who has no contacts yet (just created), without a query.

The rule is the one of :mod:`trialdm.contacts.queries` (see its docstring) with no
contact and no allocation yet (the participant is being created): the window opens on
``intervention_start``, else on the enrolment date. A test compares this with
the SQL for every status a participant without contacts can have, so the two cannot
drift apart unnoticed.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from dateutil.relativedelta import relativedelta

from trialdm.contacts.queries import FidelityRule, has_fidelity_status
from trialdm.participants.models import Participant


def fidelity_without_contacts(
    participant: Participant, as_of: date | None = None, rule: FidelityRule | None = None
) -> dict[str, Any] | None:
    """The fields :func:`~trialdm.contacts.queries.fidelity_for` gives a participant
    without contacts (None for people without a fidelity status)."""
    if not has_fidelity_status(participant):
        return None
    as_of = as_of or date.today()
    rule = rule or FidelityRule.from_settings()
    start = participant.intervention_start or participant.enrolment_date
    end = start + relativedelta(months=rule.months) if start is not None else None
    started = start is not None and start <= as_of
    withdrawn = (
        participant.status == "withdrawn"
        and participant.withdrawal_date is not None
        and participant.withdrawal_date <= as_of
    )
    if started and rule.minimum <= 0:
        status = "met"
    elif withdrawn:
        status = "withdrawn"
    elif start is None or end is None or not started:
        status = "not_started"
    elif as_of > end:
        status = "not_met"
    elif rule.minimum * ((as_of - start).days + 1) >= (1 + rule.slack) * ((end - start).days + 1):
        status = "at_risk"
    else:
        status = "on_track"
    if end is None:
        days_left = None
    elif as_of > end:
        days_left = 0
    else:
        days_left = (end - as_of).days + 1
    return {
        "participant_id": participant.id,
        "site_code": participant.site_code,
        "first_contact": None,
        "last_contact": None,
        "window_start": start,
        "window_end": end,
        "contacts_total": 0,
        "contacts_in_window": 0,
        "days_left": days_left,
        "status": status,
        "minimum": rule.minimum,
    }
