"""Versions over HTTP, the same everywhere: walks every operation of the OpenAPI
document that changes a record and checks that it declares If-Match, 412 and 428,
answers 428 without If-Match and 412 with a stale one, and changes nothing then."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select, update

from tests.conftest import seeders
from trialdm.core.audit import AuditEvent
from trialdm.core.versions import OUTSIDE_VERSIONS

SITE = "BU"
MARKER = "VERSIONS-WALK"
PARAM = re.compile(r"{(\w+)}")
PROBLEM = "application/problem+json"
# Personal, idempotent actions on one's own things, not edits of a shared record:
# marking a reminder unread, revoking one's own API token. Nobody else writes them.
NOT_VERSIONED = {
    ("delete", "/api/v1/reminders/{entry_id}/read"),
    ("delete", "/api/v1/tokens/{token_id}"),
}
# A body each operation accepts, so that the request reaches the version check.
BODIES = {
    "/api/v1/users/{user_id}": {"display_name": "walk"},
    "/api/v1/translations/{translation_id}/steps/{step_id}": {"due_date": "2099-01-31"},
    "/api/v1/translations/{translation_id}/segments/{segment_key}": {"text": "walk"},
    "/api/v1/transcripts/{transcript_id}/verbatim": {"text": "walk"},
    "/api/v1/transcripts/{transcript_id}/english": {"text": "walk"},
    "/api/v1/transcripts/{transcript_id}/pseudonymisation/confirm": {},
    "/api/v1/queries/{query_id}/answer": {"text": "walk"},
    "/api/v1/queries/{query_id}/close": {},
    "/api/v1/queries/{query_id}/reopen": {"text": "walk"},
}


@pytest.fixture
def seeded(db_session):
    params: dict[str, object] = {}
    for module in seeders():
        params.update(module.seed(db_session, SITE, MARKER))
    db_session.commit()
    return params


def document(client) -> dict:
    return client.get("/api/v1/openapi.json").json


def declares_if_match(operation: dict) -> bool:
    return any(
        p.get("in") == "header" and p.get("name") == "If-Match" and p.get("required")
        for p in operation.get("parameters", [])
    )


def writes(doc: dict):
    """Every operation that changes a record: PATCH, PUT and DELETE on a record's
    path, and any other operation that declares If-Match (POSTs that change one)."""
    for path, item in sorted(doc["paths"].items()):
        for method, operation in sorted(item.items()):
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            changes_record = method in {"put", "patch", "delete"} and "{" in path
            if (method, path) in NOT_VERSIONED:
                continue
            if changes_record or declares_if_match(operation):
                yield path, method, operation


def fill(path: str, params: dict[str, object]) -> str:
    return PARAM.sub(lambda m: str(params[m.group(1)]), path)


def send(api, method: str, path: str, url: str, headers: dict[str, str]):
    if method == "delete":
        return api.delete(url + "?reason=walk", headers=headers)
    body = BODIES.get(path, {"reason": "walk"})
    return getattr(api, method)(url, json=body, headers=headers)


def audit_count(session) -> int:
    return session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action.in_(["insert", "update", "delete"]))
        .execution_options(trialdm_skip_site_scoping=True)
    )


def test_the_walk_finds_the_record_writes(client):
    found = {(method, path) for path, method, _ in writes(document(client))}
    for expected in [
        ("patch", "/api/v1/participants/{participant_id}"),
        ("delete", "/api/v1/focus-groups/{focus_group_id}/members/{member_id}"),
        ("patch", "/api/v1/interviews/{interview_id}/members/{member_id}"),
        ("put", "/api/v1/translations/{translation_id}/segments/{segment_key}"),
        ("post", "/api/v1/transcripts/{transcript_id}/verbatim"),
        ("delete", "/api/v1/users/{user_id}/memberships/{membership_id}"),
    ]:
        assert expected in found
    assert len(found) >= 25
    paths = document(client)["paths"]
    for method, path in NOT_VERSIONED:  # the exemptions name real operations
        assert method in paths[path]


def test_every_write_declares_if_match_412_and_428(client):
    missing = []
    for path, method, operation in writes(document(client)):
        where = f"{method.upper()} {path}"
        if not declares_if_match(operation):
            missing.append(f"{where}: no required If-Match header")
        for status in ("412", "428"):
            response = operation.get("responses", {}).get(status)
            if response is None or PROBLEM not in response.get("content", {}):
                missing.append(f"{where}: no {status} problem+json response")
    assert not missing, "\n".join(missing)


def test_every_write_needs_the_current_version(client, seeded, api_as, db_session):
    admin = api_as("admin")
    before = audit_count(db_session)
    wrong = []
    # the seeded member is the focus group's; the interview has its own
    interview_members = admin.get(f"/api/v1/interviews/{seeded['interview_id']}/members").json
    for path, method, _ in writes(document(client)):
        where = f"{method.upper()} {path}"
        params = dict(seeded)
        if path.startswith("/api/v1/interviews/{interview_id}/members/"):
            params["member_id"] = interview_members["items"][0]["id"]
        url = fill(path, params)
        missing = send(admin, method, path, url, {})
        if missing.status_code != 428 or missing.mimetype != PROBLEM:
            wrong.append(f"{where} without If-Match: {missing.status_code} {missing.json}")
        stale = send(admin, method, path, url, {"If-Match": '"999"'})
        if stale.status_code != 412 or stale.mimetype != PROBLEM:
            wrong.append(f"{where} with a stale If-Match: {stale.status_code} {stale.json}")
        elif "If-Match" not in stale.json.get("errors", {}):
            wrong.append(f"{where}: the 412 does not name the current version")
    assert not wrong, "\n".join(wrong)
    assert audit_count(db_session) == before, "a refused write changed something"


def test_current_version_is_accepted_and_the_etag_moves_on(api_as, make_participant):
    api = api_as("research_worker", [SITE])
    person = make_participant(SITE, "mhw", gender="female", year_of_birth=1985, profession="nurse")
    url = f"/api/v1/participants/{person.id}"
    read = api.get(url)
    assert read.headers["ETag"] == f'"{read.json["version"]}"'
    changed = api.patch(
        url,
        json={"profession": "doctor", "reason": "typo"},
        headers={"If-Match": read.headers["ETag"]},
    )
    assert changed.status_code == 200
    assert changed.headers["ETag"] == f'"{read.json["version"] + 1}"'
    weak = api.patch(
        url,
        json={"profession": "nurse", "reason": "typo"},
        headers={"If-Match": f"W/{changed.headers['ETag']}"},
    )
    assert weak.status_code == 200
    # "*" would match any version: it is not a version, so it is asked for again
    star = api.patch(url, json={"profession": "x", "reason": "r"}, headers={"If-Match": "*"})
    assert star.status_code == 428
    garbage = api.patch(url, json={"profession": "x", "reason": "r"}, headers={"If-Match": "abc"})
    assert garbage.status_code == 412


def _lose_the_race_at_flush(monkeypatch, module) -> None:
    """The version check passes, then another writer commits before this one flushes
    (simulated by moving the row's version on in the same transaction)."""
    real = module.check_version

    def check_then_lose(record, expected):
        real(record, expected)
        table = type(record).__table__
        from trialdm.extensions import db

        db.session.execute(
            update(table).where(table.c.id == record.id).values(version_id=table.c.version_id + 1),
            execution_options={OUTSIDE_VERSIONS: True},
        )

    monkeypatch.setattr(module, "check_version", check_then_lose)


def test_a_race_lost_at_flush_is_412_and_records_nothing(
    api_as, make_participant, monkeypatch, db_session
):
    from trialdm.qualitative import operations

    api = api_as("research_worker", [SITE])
    person = make_participant(SITE, "mhw", gender="female", year_of_birth=1985, profession="nurse")
    group = api.post(
        "/api/v1/focus-groups",
        json={
            "site": SITE,
            "date": "2021-08-24",
            "mode": "in_person",
            "members": [{"participant_id": person.id, "age": 40}],
        },
    ).json
    member_url = f"/api/v1/focus-groups/{group['id']}/members/{group['members'][0]['id']}"
    before = audit_count(db_session)
    _lose_the_race_at_flush(monkeypatch, operations)
    for response in (
        api.patch(member_url, json={"age": 41, "reason": "r"}, headers={"If-Match": '"1"'}),
        api.delete(member_url + "?reason=left", headers={"If-Match": '"1"'}),
    ):
        assert response.status_code == 412 and response.mimetype == PROBLEM
        assert "changed by someone else" in response.json["detail"]
    assert audit_count(db_session) == before
    monkeypatch.undo()
    member = api.get(member_url.rsplit("/", 1)[0]).json["items"][0]
    assert member["age"] == 40 and member["version"] == 1


def test_a_page_that_loses_the_race_at_flush_says_so(app, make_user, monkeypatch, db_session):
    from datetime import date

    from tests.web_helpers import login
    from trialdm.core.scoping import all_sites
    from trialdm.extensions import db
    from trialdm.qualitative import operations
    from trialdm.qualitative.models import QualitativeSession

    with all_sites():
        record = QualitativeSession(
            site_code=SITE, kind="focus_group", date=date(2021, 8, 24), mode="in_person"
        )
        db.session.add(record)
        db.session.commit()
    browser = login(app.test_client(), make_user("research_worker", [SITE]))
    url = f"/qualitative/focus-groups/{record.id}/edit"
    form = {
        "date": "2021-08-24",
        "mode": "in_person",
        "field_notes": "mine",
        "version": str(record.version_id),
        "reason": "notes",
    }
    # a form shown before someone else saved: refused with a message, not a 500
    stale = browser.post(url, data={**form, "version": str(record.version_id + 1)})
    assert stale.status_code == 422
    assert "changed by someone else" in stale.get_data(as_text=True)
    _lose_the_race_at_flush(monkeypatch, operations)
    lost = browser.post(url, data=form)
    assert lost.status_code == 422
    assert "changed by someone else" in lost.get_data(as_text=True)
    monkeypatch.undo()
    db.session.expire_all()
    assert db.session.get(QualitativeSession, record.id).field_notes is None


def test_bulk_statements_on_versioned_tables_are_refused(app, db_session, make_participant):
    from sqlalchemy import delete

    from trialdm.participants.models import Participant
    from trialdm.qualitative.models import QualitativeMember

    person = make_participant(SITE, "mhw", gender="female", year_of_birth=1985)
    for statement in (
        update(Participant).where(Participant.id == person.id).values(gender="male"),
        update(QualitativeMember.__table__).values(age=1),
        delete(QualitativeMember),
    ):
        with pytest.raises(RuntimeError, match="versioned table"):
            db_session.execute(statement)
    db_session.rollback()
    assert db_session.get(Participant, person.id).gender == "female"
