"""Demo contact sessions: at every site, intervention participants in each fidelity
status a trial shows today (on_track, at_risk, met, not_met, withdrawn; not_started
needs a window opening later, which today's enrolments cannot have), with individual
and group sessions. Windows open at enrolment (the demo's allocations are dated on the
enrolment day), so plans are chosen from the days since enrolment, and every session
goes through the same operation (and rules) as the API."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta
from itertools import pairwise

from sqlalchemy import select
from sqlalchemy.orm import Session

from trialdm.contacts.models import MODES
from trialdm.contacts.operations import create_contact_session
from trialdm.contacts.queries import fidelity_for
from trialdm.core.audit import audit_context
from trialdm.participants.models import Participant
from trialdm.participants.operations import update_participant

# status -> (fewest, most) days since enrolment the plan needs; a six-month window
# closes after about 182 days, and someone never contacted is at risk after 61
PLAN_DAYS: dict[str, tuple[int, int | None]] = {
    "at_risk": (70, 175),
    "on_track": (5, 175),
    "not_met": (200, None),
    "withdrawn": (20, None),
    "met": (40, None),
}
FIRST_ROUND = ("at_risk", "on_track", "not_met", "withdrawn", "met", "met")
PLACES = ("peer support room", "community centre", "service user's home", "cafe", "clinic")


def _fits(status: str, days: int) -> bool:
    low, high = PLAN_DAYS[status]
    return days >= low and (high is None or days <= high)


def _plans(people: list[Participant], today: date) -> list[tuple[Participant, str]]:
    """Give each participant a status its dates allow: first one of each status (the
    narrowest ranges first), then a mix for everyone else."""
    days = {p.id: (today - p.enrolment_date).days for p in people}
    ordered = sorted(people, key=lambda p: (p.enrolment_date, p.id))
    chosen: dict[int, str] = {}
    for status in FIRST_ROUND:
        person = next(
            (p for p in ordered if p.id not in chosen and _fits(status, days[p.id])), None
        )
        if person is not None:
            chosen[person.id] = status
    rest = ("on_track", "at_risk", "met", "not_met")
    for n, person in enumerate(p for p in ordered if p.id not in chosen):
        fitting = [s for s in rest[n % 4 :] + rest[: n % 4] if _fits(s, days[person.id])]
        chosen[person.id] = fitting[0] if fitting else "on_track"
    return [(person, chosen[person.id]) for person in ordered]


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
        # the two 'met' participants enrolled closest in time (plans are in enrolment
        # order) start together in a group session, inside both their windows
        pairs = sorted(
            pairwise(p for p, status in plans if status == "met"),
            key=lambda pair: pair[1].enrolment_date - pair[0].enrolment_date,
        )
        met = list(pairs[0]) if pairs else []
        if met:
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
                pass  # enrolled months ago and never contacted: the trial is failing them
            elif status == "on_track":
                record(enrolled + timedelta(days=1), [person])
                record(max(enrolled + timedelta(days=2), today - timedelta(days=3)), [person])
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
