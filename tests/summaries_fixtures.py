"""Loading the published reference tables into a test database."""

from __future__ import annotations

import csv
from pathlib import Path

from flask import current_app

from trialdm.core.scoping import all_sites
from trialdm.extensions import db
from trialdm.participants.operations import create_participant
from trialdm.participants.vocabulary import diagnosis_from_text, diagnosis_vocabulary


def load_shanghai(reference_dir: Path, site: str) -> list:
    """The 14 Shanghai day-care participants at ``site``, in the published order."""
    vocabulary = diagnosis_vocabulary(current_app.config["DIAGNOSIS_VOCABULARY"])
    created = []
    path = reference_dir / "shanghai_table2_participants.csv"
    with path.open(encoding="utf-8") as handle, all_sites():
        for row in csv.DictReader(handle):
            created.append(
                create_participant(
                    db.session,
                    {
                        "site": site,
                        "category": "service_user",
                        "gender": row["gender"],
                        "age": int(row["age"]),
                        "marital_status": row["marital_status"],
                        "occupation": row["occupation"],
                        "years_in_care": float(row["years_in_daycare"]),
                        "years_of_illness": float(row["years_of_illness"]),
                        "diagnoses": [diagnosis_from_text(row["diagnosis"], vocabulary)],
                    },
                )
            )
    db.session.commit()
    return created
