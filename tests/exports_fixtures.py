"""A trial with every field type for the export tests: an instrument ``export_probe``
(text, integer, decimal, date, single and multiple choice, yes/no, scale; Hebrew
labels; an identifying field), answers entered through the API, and participants
at two sites."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import date
from typing import Any

from trialdm.instruments.definitions import parse_definition
from trialdm.instruments.operations import sync_instruments

PROBE: dict[str, Any] = {
    "name": "export_probe",
    "version": 1,
    "title": {"en": "Export probe", "he": "בדיקת ייצוא"},
    "respondents": ["service_user"],
    "events": ["T1"],
    "fields": [
        {"name": "nickname", "type": "text", "label": {"en": "Name used", "he": "שם"}},
        {"name": "comment", "type": "text", "label": {"en": "Comment", "he": "הערה"}},
        {
            "name": "sessions",
            "type": "integer",
            "label": "Sessions attended",
            "min": 0,
            "max": 50,
            "units": "sessions",
        },
        {"name": "weight", "type": "decimal", "label": "Weight", "min": 30, "max": 250},
        {"name": "visit_date", "type": "date", "label": "Visit date"},
        {
            "name": "mood",
            "type": "single_choice",
            "label": {"en": "Mood", "he": "מצב רוח"},
            "choices": [
                {"value": "good", "label": {"en": "Good", "he": "טוב"}},
                {"value": "bad", "label": {"en": "Bad", "he": "רע"}},
            ],
        },
        {
            "name": "supports",
            "type": "multiple_choice",
            "label": "Supports",
            "choices": [
                {"value": "family", "label": "Family"},
                {"value": "friends", "label": "Friends"},
                {"value": "peer", "label": "Peer worker"},
            ],
        },
        {"name": "housed", "type": "yes_no", "label": "Housed"},
        {
            "name": "wellbeing",
            "type": "scale",
            "label": "Wellbeing",
            "min": 1,
            "max": 5,
            "choices": [{"value": 1, "label": "Very poor"}, {"value": 5, "label": "Very good"}],
        },
    ],
}
PROBE["fields"][0]["identifier"] = True

HEBREW = 'שלום עולם, "מצוטט"\nשורה שנייה'
FULL = {
    "nickname": "Dana",
    "comment": HEBREW,
    "sessions": 12,
    "weight": 71.5,
    "visit_date": "2025-06-01",
    "mood": "good",
    "supports": ["family", "peer"],
    "housed": True,
    "wellbeing": 4,
}
SPARSE = {
    "sessions": {"missing": "refused"},
    "visit_date": {"missing": "dont_know"},
    "mood": {"missing": "not_asked"},
    "supports": {"missing": "refused"},
    "housed": False,
}
OTHER_SITE = {"comment": "ULM-ONLY-COMMENT", "sessions": 3}


@dataclass
class ProbeTrial:
    full_id: str
    sparse_id: str
    other_id: str


def store_probe(session) -> None:
    definition = parse_definition(PROBE, "export_probe.toml")
    sync_instruments(session, [definition], {"export_probe": "export_probe.toml"})


def probe_trial(db_session, make_participant, api_as) -> ProbeTrial:
    store_probe(db_session)
    db_session.commit()
    people = [
        make_participant("BU", enrolment_date=date(2025, 2, 1), occupation="Teacher"),
        make_participant("BU", enrolment_date=date(2025, 2, 3), arm="control"),
        make_participant("ULM", enrolment_date=date(2025, 2, 5)),
    ]
    bu = api_as("research_worker", ["BU"])
    ulm = api_as("research_worker", ["ULM"])
    for api, person, answers, status in (
        (bu, people[0], FULL, "complete"),
        (bu, people[1], SPARSE, "incomplete"),
        (ulm, people[2], OTHER_SITE, "incomplete"),
    ):
        body = {
            "participant_id": person.id,
            "instrument": "export_probe",
            "event": "T1",
            "collected_on": "2025-06-02",
            "status": status,
            "answers": answers,
        }
        created = api.post("/api/v1/responses", json=body)
        assert created.status_code == 201, created.json
    return ProbeTrial(people[0].study_id, people[1].study_id, people[2].study_id)


def export(api, **body: Any) -> tuple[dict, zipfile.ZipFile]:
    """Ask for an export, check it finished, download it; (job, zip)."""
    created = api.post("/api/v1/exports", json=body)
    assert created.status_code == 202, created.json
    job = api.get(f"/api/v1/exports/{created.json['id']}").json
    assert job["state"] == "done", job
    download = api.get(job["links"]["download"])
    assert download.status_code == 200
    assert download.mimetype == "application/zip"
    return job, zipfile.ZipFile(io.BytesIO(download.data))
