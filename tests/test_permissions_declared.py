"""A write endpoint declares a write permission: what an endpoint does is visible where
its permission is declared, and read-only roles cannot write through a read grant."""

from __future__ import annotations

from tests.translation_helpers import create_material, make_team, start
from trialdm.auth.permissions import endpoint_permissions

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
# Endpoints whose one method serves reads and writes, each checked inside.
MULTIPLEXED = {
    ("redcap.redcap_api", "POST"): "REDCap's API: every content (export or import) is a POST",
}


def test_every_write_endpoint_declares_a_write_permission(app):
    found = {
        f"{method} {endpoint}: {permission}"
        for (endpoint, method), permission in endpoint_permissions(app).items()
        if method in WRITES
        and (endpoint, method) not in MULTIPLEXED
        and permission is not None
        and permission.endswith(".read")
    }
    assert found == set()


def test_read_only_roles_cannot_comment_on_translations(api_as):
    team = make_team(api_as)
    material = create_material(team.admin, segments=[{"key": "intro", "text": "Hello."}])
    translation = start(team, material)
    url = f"/api/v1/translations/{translation['id']}/comments"
    for role, sites in (("coordinator", None), ("research_worker", ["BU"])):
        refused = api_as(role, sites).post(url, json={"body": "Looks fine to me."})
        assert refused.status_code == 403, (role, refused.json)
    assert team.translator.post(url, json={"body": "Check the title."}).status_code == 201
