"""Demo focus groups (one per site, with its mental health workers) and interviews
with a PSW and a service user at a few sites."""

from __future__ import annotations

import random
from datetime import date, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from trialdm.participants.models import Participant
from trialdm.qualitative.operations import create_session
from trialdm.sites.models import Site

INTERVIEW_SITES = ("BU", "ULM", "BGU")


def _people(session: Session, site: str, **where) -> list[Participant]:
    stmt = select(Participant).where(Participant.site_code == site).order_by(Participant.id)
    for name, value in where.items():
        stmt = stmt.where(getattr(Participant, name) == value)
    return list(session.scalars(stmt))


def demo_qualitative(session: Session, rng: random.Random) -> str:
    today = date.today()
    groups = interviews = 0
    for site in session.scalars(select(Site).order_by(Site.code)):
        mhws = _people(session, site.code, category="mhw")
        if len(mhws) < 2:
            continue
        create_session(
            session,
            "focus_group",
            {
                "site": site.code,
                "date": today - timedelta(days=rng.randint(30, 200)),
                "start_time": time(10, 0),
                "duration_min": rng.choice([50, 60, 75, 90]),
                "location": f"{site.name} mental health service",
                "mode": rng.choice(["in_person", "in_person", "online"]),
                "language": (site.languages or ["en"])[0],
                "moderator_role": "senior researcher",
                "assistant_role": "research assistant",
                "topic_guide_ref": "MHW focus group topic guide v1",
                "consent_recorded": True,
                "field_notes": "Lively discussion of the PSW role in the team.",
                "members": [{"participant_id": m.id} for m in mhws],
            },
        )
        groups += 1
        if site.code not in INTERVIEW_SITES:
            continue
        psw = _people(session, site.code, category="psw")[0]
        user = _people(session, site.code, category="service_user", arm="intervention")[0]
        for person, guide in ((psw, "PSW interview guide v1"), (user, "service user guide v1")):
            create_session(
                session,
                "interview",
                {
                    "site": site.code,
                    "date": today - timedelta(days=rng.randint(5, 60)),
                    "duration_min": rng.choice([35, 45, 60]),
                    "location": "interview room",
                    "mode": rng.choice(["in_person", "phone"]),
                    "language": (site.languages or ["en"])[0],
                    "moderator_role": "research worker",
                    "topic_guide_ref": guide,
                    "consent_recorded": True,
                    "members": [{"participant_id": person.id}],
                },
            )
            interviews += 1
    return f"{groups} focus groups and {interviews} interviews"
