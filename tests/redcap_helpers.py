"""Helpers shared by the REDCap API tests: REDCap tokens and form-encoded calls."""

from __future__ import annotations

import json
from typing import Any

from trialdm.auth.operations import create_token
from trialdm.extensions import db

# a participant's record diagnoses that BASELINE's diagnoses items show
BU1_DIAGNOSES = [{"code": "F32"}, {"code": "F50.0", "text": "Eating disorder"}]
BASELINE = {
    "gender": "female",
    "year_of_birth": 1985,
    "marital_status": "single",
    "living_situation": "family",
    "employment": "part_time",
    "hours_per_week": 20.5,
    "diagnoses": ["depression", "other"],
    "diagnosis_other": "Eating disorder",
    "years_since_first_contact": 6,
    "first_contact_date": "2019-03-04",
}


def redcap_token(user: Any) -> str:
    _, token = create_token(db.session, user, "redcap", redcap=True)
    db.session.commit()
    return token


class RedcapClient:
    """Posts form bodies to ``/api/`` with a token, as PyCap does."""

    def __init__(self, client: Any, token: str) -> None:
        self.client = client
        self.token = token

    def post(self, **params: Any):
        data: dict[str, Any] = {"token": self.token, **params}
        return self.client.post("/api/", data=data)

    def export(self, content: str, **params: Any) -> Any:
        response = self.post(content=content, format="json", **params)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.json

    def records(self, **params: Any) -> list[dict[str, str]]:
        return self.export("record", type="flat", **params)

    def import_records(self, rows: list[dict[str, Any]], **params: Any):
        return self.post(
            content="record",
            format="json",
            type="flat",
            data=json.dumps(rows),
            returnFormat="json",
            **params,
        )
