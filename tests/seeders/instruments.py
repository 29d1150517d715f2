"""Cross-site walk records of the instruments and schedule domains, and the helper
that stores the shipped instrument definitions in a test database."""

from datetime import date
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from trialdm.instruments.definitions import load_definition_folder
from trialdm.instruments.definitions.translations import (
    TRANSLATIONS_FOLDER,
    load_translation_folder,
)
from trialdm.instruments.models import InstrumentVersion
from trialdm.instruments.operations import create_response, sync_instruments
from trialdm.participants.operations import create_participant


def sync_shipped(session) -> None:
    """Store the definitions of instruments/ and their shipped wording in other
    languages unless they are stored already."""
    stored = select(InstrumentVersion.id).where(InstrumentVersion.name == "baseline_demographics")
    if session.scalar(stored.limit(1)) is None:
        folder = Path(current_app.config["INSTRUMENTS_DIR"])
        definitions = load_definition_folder(folder)
        translations = load_translation_folder(folder / TRANSLATIONS_FOLDER)
        sources = {d.name: f"{d.name}.toml" for d in definitions}
        sync_instruments(session, definitions, sources, translations)


def seed(session, site: str, marker: str) -> dict:
    sync_shipped(session)
    participant = create_participant(
        session,
        {
            "site": site,
            "category": "service_user",
            "gender": "female",
            "year_of_birth": 1980,
            "enrolment_date": date(2025, 3, 1),
            "consent_date": date(2025, 3, 1),
            "consent_version": "1.0",
            "arm": "control",
            "occupation": marker,
            # shown by the baseline's derived diagnoses items as "other" with the marker
            "diagnoses": [{"code": "F90.0", "text": marker}],
        },
    )
    response = create_response(
        session,
        {
            "participant_id": participant.id,
            "instrument": "baseline_demographics",
            "event": "T0",
            "status": "incomplete",
            "collected_on": date(2025, 3, 1),
            "answers": {"employment": "retired"},
        },
    )
    return {
        "participant_id": participant.id,
        "response_id": response.id,
        "instrument_name": "baseline_demographics",
        "instrument_version": response.instrument_version.version,
    }
