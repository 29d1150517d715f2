"""Loads demo data once. Each domain contributes a step; steps run in order and
each reports a line. A second run finds the demo admin and changes nothing."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import date, timedelta

from sqlalchemy.orm import Session

from trialdm.auth.operations import create_user, get_user_by_email
from trialdm.contacts.demo import demo_contacts
from trialdm.instruments.demo import demo_instruments, demo_responses
from trialdm.participants.operations import create_participant
from trialdm.qualitative.demo import demo_qualitative
from trialdm.randomisation.demo import demo_allocation_list, enrol_demo_participant
from trialdm.reminders.demo import demo_reminders
from trialdm.schedule.demo import demo_schedule
from trialdm.translation.demo import demo_translation

DEMO_PASSWORD = "demo-password"
DEMO_ADMIN = "admin@demo.trialdm.org"
DEMO_USERS = [
    (DEMO_ADMIN, "admin", []),
    ("coordinator@demo.trialdm.org", "coordinator", []),
    ("monitor@demo.trialdm.org", "monitor", []),
    ("rw.bu@demo.trialdm.org", "research_worker", ["BU"]),
    ("lead.bu@demo.trialdm.org", "site_lead", ["BU"]),
    ("rw.ulm@demo.trialdm.org", "research_worker", ["ULM"]),
    ("lead.ulm@demo.trialdm.org", "site_lead", ["ULM"]),
    ("rw.bgu@demo.trialdm.org", "research_worker", ["BGU"]),
    ("translator.bu@demo.trialdm.org", "translator", ["BU"]),
    ("reviewer.bu@demo.trialdm.org", "reviewer", ["BU"]),
    ("reviewer2.bu@demo.trialdm.org", "reviewer", ["BU"]),
    ("statistician@demo.trialdm.org", "statistician", []),
    ("translator.bgu@demo.trialdm.org", "translator", ["BGU"]),
]
DEMO_SITES = ("ULM", "UKE", "BU", "DS", "PU", "BGU")


def demo_users(session: Session, rng: random.Random) -> str:
    for email, role, sites in DEMO_USERS:
        # The demo's published password is for trying the service out, so it is exempt
        # from the password policy that every real account meets.
        create_user(session, email, role, sites, DEMO_PASSWORD, check_password=False)
    return f"{len(DEMO_USERS)} users (password '{DEMO_PASSWORD}')"


def demo_participants(session: Session, rng: random.Random) -> str:
    today = date.today()
    count = 0
    diagnoses = ["F20", "F31", "F32", "F33", "F41", "F43", "F25", "F60"]
    for site in DEMO_SITES:
        for _ in range(3):
            create_participant(
                session,
                {
                    "site": site,
                    "category": "psw",
                    "gender": rng.choice(["female", "male"]),
                    "year_of_birth": rng.randint(1965, 1995),
                    # trained before the first demo enrolment, so they can give every session
                    "training_completed": today - timedelta(days=450),
                },
            )
            count += 1
        for index in range(24):
            enrolled = today - timedelta(days=rng.randint(5, 420))
            enrol_demo_participant(
                session,
                {
                    "site": site,
                    "category": "service_user",
                    "gender": rng.choice(["female", "male", "female", "male", "diverse"]),
                    "year_of_birth": enrolled.year - rng.randint(19, 59),
                    "diagnoses": [
                        {"code": c, "text": None}
                        for c in rng.sample(diagnoses, rng.choice([1, 1, 2]))
                    ],
                    "marital_status": rng.choice(["unmarried", "married", "divorced", "widowed"]),
                    "occupation": rng.choice(["unemployed", "part_time", "full_time", "student"]),
                    "years_of_illness": rng.randint(1, 25),
                    "enrolment_date": enrolled,
                    "consent_date": enrolled - timedelta(days=rng.randint(0, 7)),
                    "consent_version": "2.1",
                    "arm": "intervention" if index % 2 == 0 else "control",
                },
            )
            count += 1
        for _ in range(4):
            create_participant(
                session,
                {
                    "site": site,
                    "category": "mhw",
                    "gender": rng.choice(["female", "male"]),
                    "age": rng.randint(28, 62),
                    "profession": rng.choice(
                        ["psychiatrist", "nurse", "psychologist", "social_worker"]
                    ),
                },
            )
            count += 1
    return f"{count} participants at {len(DEMO_SITES)} sites"


# Domains append their steps here, in dependency order.
DEMO_STEPS: list[tuple[str, Callable[[Session, random.Random], str]]] = [
    ("users", demo_users),
    ("randomisation", demo_allocation_list),
    ("participants", demo_participants),
    ("contacts", demo_contacts),
    ("qualitative", demo_qualitative),
    ("instruments", demo_instruments),
    ("responses", demo_responses),
    ("schedule", demo_schedule),
    ("translation", demo_translation),
    ("reminders", demo_reminders),
]


def load_demo(session: Session, seed: int = 7) -> Iterator[str]:
    if get_user_by_email(session, DEMO_ADMIN) is not None:
        yield "demo data already loaded; nothing changed"
        return
    rng = random.Random(seed)
    for name, step in DEMO_STEPS:
        yield f"{name}: {step(session, rng)}"
        session.flush()
