"""What the contacts domain adds to participants (see trialdm.participants.hooks):
changes its recorded sessions contradict are refused, and participants show and are
filtered by their intervention fidelity."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import Select
from sqlalchemy.orm import Session

from trialdm.contacts.fidelity import fidelity_without_contacts
from trialdm.contacts.operations import check_against_contacts
from trialdm.contacts.queries import attach_fidelity
from trialdm.contacts.status_filter import with_fidelity_status
from trialdm.extensions import db
from trialdm.participants.hooks import participant_hooks
from trialdm.participants.models import Participant
from trialdm.sites.queries import site_today, sites_by_day


def attach_fidelity_created(session: Session, participants: list[Participant]) -> None:
    """A participant just created has no contacts: their fidelity needs no query."""
    for participant in participants:
        participant.fidelity = fidelity_without_contacts(
            participant, site_today(session, participant.site_code)
        )


def with_fidelity_status_today(stmt: Select, status: str) -> Select:
    """The participant list's fidelity filter: each site's participants by their
    status on the site's own date, as their page shows it."""
    return with_fidelity_status(stmt, status, days=sites_by_day(db.session))


def install_participant_hooks(app: Flask) -> None:
    hooks = participant_hooks(app)
    hooks.change_checks["contacts"] = check_against_contacts
    hooks.attach["fidelity"] = attach_fidelity
    hooks.attach_created["fidelity"] = attach_fidelity_created
    hooks.filters["fidelity"] = with_fidelity_status_today
