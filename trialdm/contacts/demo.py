"""Demo contact sessions: at every site, intervention participants in each fidelity
status (not_started, on_track, at_risk, met, not_met, withdrawn), with individual and
group sessions. Plans are chosen from each participant's enrolment date, oldest first,
and every session goes through the same operation (and rules) as the API."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from trialdm.contacts.models import MODES
from trialdm.contacts.operations import create_contact_session
from trialdm.contacts.queries import fidelity_for
from trialdm.core.audit import audit_context
from trialdm.participants.models import Participant
from trialdm.participants.operations import update_participant

# status -> fewest days since enrolment the plan needs
PLAN_NEEDS = {"not_met": 200, "at_risk": 150, "met": 40, "withdrawn": 20, "on_track": 1}
FIRST_ROUND = ("not_met", "at_risk", "met", "met", "withdrawn", "on_track", "not_started")
PLACES = ("peer support room", "community centre", "service user's home", "cafe", "clinic")


def _plans(people: list[Participant], today: date) -> list[tuple[Participant, str]]:
    """Give each participant (oldest enrolment first) a status its dates allow."""
    wanted = list(FIRST_ROUND)
    plans = []
    for person in sorted(people, key=lambda p: (p.enrolment_date, p.id)):
        days = (today - person.enrolment_date).days
        feasible = [s for s in wanted if days >= PLAN_NEEDS.get(s, 0)]
        status = feasible[0] if feasible else "not_started"
        if status in wanted:
            wanted.remove(status)
        elif days >= PLAN_NEEDS["met"]:
            status = "met"
        plans.append((person, status))
    return plans


def _record(
    session: Session,
    rng: random.Random,
    site: str,
    psws: list[Participant],
    on: date,
    attendees: list[Participant],
) -> None:
    create_contact_session(
        session,
        {
            "site": site,
            "psws": [rng.choice(psws).id],
            "date": on,
            "format": "group" if len(attendees) > 1 else "individual",
            "mode": rng.choice(MODES),
            "duration_min": rng.choice([30, 45, 60, 90]),
            "place": rng.choice(PLACES),
            "notes": "Talked about recovery goals and next steps.",
            "attendees": [a.id for a in attendees],
        },
    )


def demo_contacts(session: Session, rng: random.Random) -> str:
    today = date.today()
    sessions = 0
    statuses: Counter[str] = Counter()
    sites = sorted(
        set(session.scalars(select(Participant.site_code).where(Participant.arm.is_not(None))))
    )
    for site in sites:
        psws = list(
            session.scalars(
                select(Participant)
                .where(Participant.site_code == site, Participant.category == "psw")
                .order_by(Participant.id)
            )
        )
        people = list(
            session.scalars(
                select(Participant)
                .where(
                    Participant.site_code == site,
                    Participant.arm == "intervention",
                    Participant.enrolment_date.is_not(None),
                )
                .order_by(Participant.id)
            )
        )

        def record(
            on: date, attendees: list[Participant], site: str = site, psws: list = psws
        ) -> None:
            nonlocal sessions
            _record(session, rng, site, psws, on, attendees)
            sessions += 1

        plans = _plans(people, today)
        met = [p for p, status in plans if status == "met"]
        # the first two 'met' participants start together in a group session
        if len(met) >= 2:
            start = max(p.enrolment_date for p in met[:2]) + timedelta(days=1)
            record(start, met[:2])
            for person in met[:2]:
                record(start + timedelta(days=10), [person])
                record(start + timedelta(days=20), [person])
        for person, status in plans:
            enrolled = person.enrolment_date
            if status == "met" and person not in met[:2]:
                for offset in (1, 12, 25):
                    record(enrolled + timedelta(days=offset), [person])
            elif status == "not_met":
                record(enrolled + timedelta(days=1), [person])
                record(enrolled + timedelta(days=40), [person])
            elif status == "at_risk":
                record(today - timedelta(days=150), [person])
            elif status == "on_track":
                record(max(enrolled, today - timedelta(days=rng.randint(3, 30))), [person])
            elif status == "withdrawn":
                record(enrolled + timedelta(days=1), [person])
                session.flush()
                with audit_context(reason="Demo: the participant withdrew."):
                    update_participant(
                        session,
                        person,
                        {
                            "status": "withdrawn",
                            "withdrawal_date": enrolled + timedelta(days=10),
                            "withdrawal_reason": "moved away",
                        },
                        person.version_id,
                    )
        session.flush()
        found = fidelity_for(session, [p.id for p in people], today)
        statuses.update(row["status"] for row in found.values())
    shown = ", ".join(f"{statuses[s]} {s}" for s in sorted(statuses))
    return f"{sessions} contact sessions at {len(sites)} sites; fidelity: {shown}"
