"""Walks every endpoint of the OpenAPI document as users of another site.

Records of site BU are made by every seeder in tests/seeders/, with a marker in
their free text. A user of ULM must get 403 or 404 for any BU record, may list
only ULM's records, must never see the marker or a BU study ID, and must not be
able to write anything at BU.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from tests.conftest import seeders
from tests.openapi_bodies import SchemaBodies
from trialdm.core.audit import AuditEvent

MARKER = "XSITE-MARKER-BU-7f3a"
OWN_SITE = "BU"
OTHER_SITE = "ULM"
PARAM = re.compile(r"{(\w+)}")
# Reference data every user may read, whatever their site.
REFERENCE_PATHS = {
    "/api/v1/sites/{code}",
    "/api/v1/instruments/{instrument_name}",
    "/api/v1/instruments/{instrument_name}/versions/{instrument_version}",
    "/api/v1/instruments/{instrument_name}/redcap",
    # The English source of study materials is trial-wide; translations are per site.
    "/api/v1/materials/{material_id}",
    "/api/v1/materials/{material_id}/versions/{version_number}",
}
OUTSIDERS = [
    ("research_worker", [OTHER_SITE]),
    ("site_lead", [OTHER_SITE]),
    ("translator", [OTHER_SITE]),
    ("reviewer", [OTHER_SITE]),
    ("monitor", [OTHER_SITE]),
]


@pytest.fixture
def seeded(db_session):
    params: dict[str, object] = {}
    for module in seeders():
        params.update(module.seed(db_session, OWN_SITE, MARKER))
    db_session.commit()
    return params


def operations(client):
    doc = client.get("/api/v1/openapi.json").json
    for path, item in sorted(doc["paths"].items()):
        for method in sorted(item):
            if method in {"get", "post", "put", "patch", "delete"}:
                yield path, method


def fill(path: str, params: dict[str, object]) -> str:
    missing = [name for name in PARAM.findall(path) if name not in params]
    if missing:
        raise LookupError(f"{path}: no seeder provides {', '.join(missing)}")
    return PARAM.sub(lambda m: str(params[m.group(1)]), path)


def bu_audit_count(session) -> int:
    return session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.site_code == OWN_SITE)
        .execution_options(trialdm_skip_site_scoping=True)
    )


def call(api, method: str, url: str, body: dict | None = None):
    headers = {"If-Match": '"1"'}
    if method in ("get", "delete"):
        return getattr(api, method)(url, headers=headers if method == "delete" else None)
    if body is None:
        return getattr(api, method)(url, headers=headers)
    return getattr(api, method)(url, json=body, headers=headers)


def bodies(client, seeded) -> SchemaBodies:
    return SchemaBodies(client.get("/api/v1/openapi.json").json, seeded, OWN_SITE)


def test_every_endpoint_has_records_to_walk(client, seeded):
    problems = []
    for path, _ in operations(client):
        try:
            fill(path, seeded)
        except LookupError as exc:
            problems.append(str(exc))
    assert not problems, "\n".join(problems)


def test_insider_reaches_the_seeded_records(client, seeded, api_as):
    admin = api_as("admin")
    wrong = []
    for path, method in operations(client):
        if method != "get" or "{" not in path:
            continue
        response = admin.get(fill(path, seeded))
        if response.status_code == 404:
            wrong.append(f"GET {path} -> 404 for an admin: the seeded ids are not real")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(("role", "sites"), OUTSIDERS, ids=[r for r, _ in OUTSIDERS])
def test_other_site_sees_and_changes_nothing(client, seeded, api_as, db_session, role, sites):
    api = api_as(role, sites)
    schema_bodies = bodies(client, seeded)
    before = bu_audit_count(db_session)
    leaks = []
    for path, method in operations(client):
        url = fill(path, seeded)
        if query := schema_bodies.query(path, method):
            url += "?" + urlencode(query)
        response = call(api, method, url, schema_bodies.body(path, method))
        body = response.get_data(as_text=True)
        if MARKER in body or re.search(rf'"{OWN_SITE}-(PSW-|MHW-)?\d', body):
            leaks.append(f"{method.upper()} {path}: BU data in the response")
        has_record = "{" in path and path not in REFERENCE_PATHS
        if has_record and response.status_code not in (403, 404):
            # A 422 means the body was refused before the record was looked up, so
            # the walk would not have tested the scope: the body generator is wrong.
            detail = response.get_json(silent=True) if response.status_code == 422 else ""
            leaks.append(
                f"{method.upper()} {path}: {response.status_code}, expected 403/404 {detail or ''}"
            )
        if not has_record and method == "get" and response.status_code not in (200, 403):
            leaks.append(f"GET {path}: {response.status_code}")
        if response.status_code >= 500:
            leaks.append(f"{method.upper()} {path}: server error {response.status_code}")
    assert bu_audit_count(db_session) == before, "an outsider's request changed BU data"
    assert not leaks, "\n".join(leaks)


@pytest.mark.parametrize(("role", "sites"), OUTSIDERS, ids=[r for r, _ in OUTSIDERS])
def test_redcap_api_shows_and_changes_nothing_of_another_site(
    client, seeded, make_user, db_session, role, sites
):
    """``POST /api/`` (REDCap's API) holds the same scope: every content read and an
    import of every BU record, with a REDCap token of a ULM user."""
    from tests.redcap_helpers import RedcapClient, redcap_token
    from trialdm.participants.models import Participant
    from trialdm.redcap.api import EXPORT_CONTENTS

    api = RedcapClient(client, redcap_token(make_user(role, sites)))
    study_ids = db_session.scalars(
        select(Participant.study_id).where(Participant.site_code == OWN_SITE)
    ).all()
    before = bu_audit_count(db_session)
    leaks = []
    for content in EXPORT_CONTENTS:
        for fmt in ("json", "csv"):
            response = api.post(
                content=content, format=fmt, **{f"records[{i}]": s for i, s in enumerate(study_ids)}
            )
            body = response.get_data(as_text=True)
            if MARKER in body or re.search(rf"\b{OWN_SITE}-(PSW-|MHW-)?\d", body):
                leaks.append(f"{content} ({fmt}): BU data in the response")
            if response.status_code not in (200, 403):
                leaks.append(f"{content} ({fmt}): {response.status_code}")
    rows = [
        {"study_id": s, "redcap_event_name": event, "si_01": "1", "gender": "male"}
        for s in study_ids
        for event in ("t0_arm_1",)
    ]
    written = api.import_records(rows, reason="walk")
    if written.status_code not in (400, 403):
        leaks.append(f"import: {written.status_code}")
    assert bu_audit_count(db_session) == before, "an outsider's import changed BU data"
    assert not leaks, "\n".join(leaks)
