"""Demo data of the instruments domain: the shipped instruments stored, baseline
responses for every demo service user, and follow-ups in every schedule status."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from dateutil.relativedelta import relativedelta
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from trialdm.config import schedule_events
from trialdm.instruments.definitions import load_definition_folder
from trialdm.instruments.definitions.translations import (
    TRANSLATIONS_FOLDER,
    load_translation_folder,
)
from trialdm.instruments.operations import create_response, sync_instruments
from trialdm.participants.models import Participant
from trialdm.randomisation.demo import enrol_demo_participant

EMPLOYMENT = {
    "unemployed": "unemployed",
    "part_time": "part_time",
    "full_time": "full_time",
    "student": "student",
}
DIAGNOSES = {
    "F20": "psychosis",
    "F25": "psychosis",
    "F31": "bipolar",
    "F32": "depression",
    "F33": "depression",
    "F41": "anxiety",
    "F43": "anxiety",
    "F60": "personality",
}


def demo_instruments(session: Session, rng: random.Random) -> str:
    folder = Path(current_app.config["INSTRUMENTS_DIR"])
    definitions = load_definition_folder(folder)
    translations = load_translation_folder(folder / TRANSLATIONS_FOLDER)
    sources = {d.name: f"{d.name}.toml" for d in definitions}
    report = sync_instruments(session, definitions, sources, translations)
    return f"{len(report.added)} instrument versions stored"


def _baseline(participant: Participant, rng: random.Random) -> dict[str, Any]:
    employment = EMPLOYMENT.get(participant.occupation or "", "unemployed")
    # Gender, year of birth and marital status are the record's (record_field).
    answers: dict[str, Any] = {
        "living_situation": rng.choice(["alone", "family", "family", "shared", "supported"]),
        "education_years": rng.randint(6, 18),
        "employment": employment,
        "diagnoses": sorted({DIAGNOSES.get(d.code, "other") for d in participant.diagnoses})
        or ["other"],
        "years_since_first_contact": float(participant.years_of_illness or rng.randint(1, 20)),
    }
    if employment in ("full_time", "part_time"):
        answers["hours_per_week"] = 38.5 if employment == "full_time" else float(rng.randint(8, 25))
    if "other" in answers["diagnoses"]:
        answers["diagnosis_other"] = "Recorded by the service as other"
    if rng.random() < 0.08:
        answers["living_situation"] = {"missing": "refused"}
    if rng.random() < 0.08:
        answers["education_years"] = {"missing": "dont_know"}
    return answers


def _scale(rng: random.Random, level: float) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for i in range(1, 11):
        value = max(0, min(3, round(rng.gauss(level, 0.8))))
        answers[f"si_{i:02d}"] = value
    if rng.random() < 0.1:
        answers["si_06"] = {"missing": "refused"}
    return answers


def _showcase(session: Session, today: date, t1_months: int) -> list[Participant]:
    """Three BU service users whose T1 is due, overdue, and who withdrew, so that the
    demo shows every status whatever day it is loaded."""
    made = []
    for enrolled, extra in (
        (today - relativedelta(months=t1_months) + timedelta(days=3), {}),  # T1 due in 3 days
        (today - relativedelta(months=t1_months) - timedelta(days=5), {}),  # T1 overdue
        (
            today - timedelta(days=200),
            {
                "status": "withdrawn",
                "withdrawal_date": today - timedelta(days=100),
                "withdrawal_reason": "Moved to another district",
            },
        ),
    ):
        made.append(
            enrol_demo_participant(
                session,
                {
                    "site": "BU",
                    "category": "service_user",
                    "gender": "female",
                    "year_of_birth": enrolled.year - 33,
                    "marital_status": "unmarried",
                    "occupation": "unemployed",
                    "years_of_illness": 4,
                    "diagnoses": [{"code": "F32", "text": None}],
                    "enrolment_date": enrolled,
                    "consent_date": enrolled,
                    "consent_version": "2.1",
                    "arm": "control",
                    **extra,
                },
            )
        )
    return made


def demo_responses(session: Session, rng: random.Random) -> str:
    config = current_app.config
    today = date.today()
    events = schedule_events(config)
    window = config["SCHEDULE_WINDOW_DAYS"]
    showcase = _showcase(session, today, events[1].months if len(events) > 1 else 4)
    keep_open = {p.id for p in showcase[:2]}
    participants = list(
        session.scalars(
            select(Participant)
            .where(
                Participant.category == "service_user",
                Participant.enrolment_date.is_not(None),
                Participant.deleted_at.is_(None),
            )
            .order_by(Participant.id)
        )
    )
    count = 0
    for participant in participants:
        enrolled = participant.enrolment_date
        assert enrolled is not None
        collected = min(enrolled + timedelta(days=rng.randint(0, 5)), today)
        for instrument, answers in (
            ("baseline_demographics", _baseline(participant, rng)),
            ("social_inclusion_scale", _scale(rng, 1.3)),
        ):
            create_response(
                session,
                {
                    "participant_id": participant.id,
                    "instrument": instrument,
                    "event": events[0].name,
                    "status": "complete",
                    "collected_on": collected,
                    "answers": answers,
                },
            )
            count += 1
        if participant.id in keep_open:
            continue
        for event in events[1:]:
            due = enrolled + relativedelta(months=event.months)
            if due - timedelta(days=window) > today:
                break  # upcoming
            if participant.withdrawal_date and participant.withdrawal_date < due:
                break
            roll = rng.random()
            if roll < 0.2:
                continue  # left undone: due, overdue or missed
            collected = min(due + timedelta(days=rng.randint(-window, window)), today)
            create_response(
                session,
                {
                    "participant_id": participant.id,
                    "instrument": "social_inclusion_scale",
                    "event": event.name,
                    "status": "incomplete" if roll < 0.3 else "complete",
                    "collected_on": collected,
                    "answers": _scale(rng, 1.3 + 0.2 * event.months / 4),
                },
            )
            count += 1
    return f"{count} responses"
