"""Shared set-up of the randomisation tests: a trial that randomises here with a
scheme of the test's choosing, and participants ready to be randomised."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from flask import Flask

GENDER_SCHEME = """
ratio = { intervention = 1, control = 1 }
block_sizes = [2, 4, 6]
slots_per_stratum = %d

[[strata]]
field = "gender"
levels = ["female", "male"]
"""


@contextmanager
def randomising(app: Flask, folder: Path, scheme: str = GENDER_SCHEME % 40) -> Iterator[Path]:
    """The app randomises here (TRIALDM_RANDOMISATION=service) with ``scheme``."""
    path = folder / "scheme.toml"
    path.write_text(scheme, encoding="utf-8")
    saved = {name: app.config[name] for name in ("RANDOMISATION", "RANDOMISATION_SCHEME")}
    app.config.update(RANDOMISATION="service", RANDOMISATION_SCHEME=str(path))
    try:
        yield path
    finally:
        app.config.update(saved)


def eligible_participant(session, site: str = "BU", **fields: Any):
    """An enrolled, consented service user (no arm) linked to an eligible screening."""
    from trialdm.core.scoping import all_sites
    from trialdm.participants.operations import create_participant
    from trialdm.screening.operations import create_entry

    enrolled = fields.pop("enrolment_date", date(2025, 3, 1))
    data = {
        "site": site,
        "category": "service_user",
        "gender": "female",
        "year_of_birth": 1985,
        "enrolment_date": enrolled,
        "consent_date": enrolled,
        "consent_version": "1.0",
        **fields,
    }
    with all_sites():
        participant = create_participant(session, data)
        create_entry(
            session,
            {
                "site": site,
                "screening_date": enrolled,
                "outcome": "eligible",
                "participant_id": participant.id,
            },
        )
    return participant
