"""Shared set-up for the translation tests: users, a material, a started translation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def source(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "text": text} for key, text in pairs]


CONSENT = source(
    ("p1", "You are invited to take part in a study."),
    ("p2", "Taking part is voluntary."),
    ("p3", "You may stop at any time."),
)


@dataclass
class Team:
    admin: Any
    lead: Any
    translator: Any
    reviewer: Any
    reviewer2: Any


def make_team(api_as, site: str = "BU") -> Team:
    return Team(
        admin=api_as("admin"),
        lead=api_as("site_lead", [site]),
        translator=api_as("translator", [site]),
        reviewer=api_as("reviewer", [site]),
        reviewer2=api_as("reviewer", [site]),
    )


def create_material(api, category="local_text", segments=(), **extra) -> dict:
    body = {"title": "Consent form", "kind": "consent_form", "category": category, **extra}
    if segments is not None:
        body["segments"] = list(segments) or CONSENT
    response = api.post("/api/v1/materials", json=body)
    assert response.status_code == 201, response.json
    return response.json


def start(team: Team, material: dict, site="BU", language="lg", assign=True) -> dict:
    body: dict[str, Any] = {"material_id": material["id"], "site": site, "language": language}
    if assign:
        body["assignees"] = {
            "forward": {"assignee_id": team.translator.user.id},
            "review": {"assignee_id": team.reviewer.user.id},
        }
    response = team.lead.post("/api/v1/translations", json=body)
    assert response.status_code == 201, response.json
    return response.json


def step_of(translation: dict, kind: str) -> dict:
    return next(step for step in translation["steps"] if step["kind"] == kind)


def act(api, translation: dict, kind: str, action: str, comment: str | None = None):
    step = step_of(translation, kind)
    body = {"action": action}
    if comment is not None:
        body["comment"] = comment
    return api.post(
        f"/api/v1/translations/{translation['id']}/steps/{step['id']}/transitions", json=body
    )


def assign(api, translation: dict, step_id: int, body: dict):
    """Assign a step as a client does: read its current version, send it in If-Match."""
    url = f"/api/v1/translations/{translation['id']}"
    current = api.get(url).json
    step = next(s for s in current["steps"] if s["id"] == step_id)
    return api.patch(
        f"{url}/steps/{step_id}", json=body, headers={"If-Match": f'"{step["version"]}"'}
    )


def write(api, translation: dict, key: str, text: str, field: str = "text"):
    """Write a segment as a client does: read its current version, send it in If-Match."""
    url = f"/api/v1/translations/{translation['id']}"
    current = api.get(url).json
    segment = next((s for s in current["segments"] if s["key"] == key), None)
    headers = {"If-Match": f'"{segment["version"]}"'} if segment else {"If-Match": '"1"'}
    return api.put(f"{url}/segments/{key}", json={field: text}, headers=headers)


def fill_all(api, translation: dict, prefix: str = "Lg") -> None:
    for segment in translation["segments"]:
        response = write(api, translation, segment["key"], f"{prefix} {segment['key']}")
        assert response.status_code == 200, response.json


def ok(response, status: int = 200):
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    return response.json if response.get_data() else None


def qualitative_session(site: str = "BU", kind: str = "focus_group", language: str | None = None):
    """A focus group (or interview, without members) of ``site``, committed."""
    from datetime import date

    from trialdm.core.scoping import all_sites
    from trialdm.extensions import db
    from trialdm.qualitative.models import QualitativeSession
    from trialdm.sites.queries import get_site

    with all_sites():
        site_record = get_site(db.session, site)
        record = QualitativeSession(
            site_code=site,
            kind=kind,
            date=date(2025, 6, 3),
            mode="in_person",
            language=language or site_record.languages[0],
        )
        db.session.add(record)
        db.session.commit()
    return record
