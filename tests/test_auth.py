import hashlib

import pytest
from sqlalchemy import select

from tests.conftest import ApiClient
from trialdm.auth.models import ApiToken, User
from trialdm.auth.permissions import ROLE_PERMISSIONS, ROLES, endpoint_permissions


def test_passwords_are_hashed_with_argon2(make_user, db_session):
    user = make_user("research_worker", ["BU"])
    assert user.password_hash.startswith("$argon2id$")
    assert "correct horse 1" not in user.password_hash


def test_login_failure_does_not_reveal_whether_the_account_exists(client, make_user):
    user = make_user("research_worker", ["BU"])
    wrong_password = client.post("/login", data={"email": user.email, "password": "nope nope"})
    no_account = client.post("/login", data={"email": "ghost@test.org", "password": "nope nope"})
    assert wrong_password.status_code == no_account.status_code == 401

    def message(response):
        return response.get_data(as_text=True).split('role="alert"')[1][:200]

    assert message(wrong_password) == message(no_account)
    ok = client.post("/login", data={"email": user.email, "password": "correct horse 1"})
    assert ok.status_code == 302
    assert client.get("/").status_code == 200


def test_token_is_shown_once_stored_hashed_and_revocable(api_as, db_session, client):
    api = api_as("research_worker", ["BU"])
    created = api.post("/api/v1/tokens", json={"name": "laptop"})
    assert created.status_code == 201
    token = created.json["token"]
    row = db_session.get(ApiToken, created.json["id"])
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(api.get("/api/v1/tokens").json)
    second = ApiClient(client, token, api.user)
    assert second.get("/api/v1/me").status_code == 200
    db_session.refresh(row)
    assert row.last_used_at is not None
    assert api.delete(f"/api/v1/tokens/{row.id}").status_code == 204
    refused = second.get("/api/v1/me")
    assert refused.status_code == 401 and refused.mimetype == "application/problem+json"


def test_someone_elses_token_cannot_be_revoked(api_as):
    mine = api_as("research_worker", ["BU"])
    theirs = api_as("research_worker", ["BU"])
    their_token = theirs.get("/api/v1/tokens").json[0]["id"]
    assert mine.delete(f"/api/v1/tokens/{their_token}").status_code == 404


def test_missing_or_bad_credentials(client):
    assert client.get("/api/v1/participants").status_code == 401
    bad = client.get("/api/v1/participants", headers={"Authorization": "Bearer tdm_x_y"})
    assert bad.status_code == 401
    basic = client.get("/api/v1/participants", headers={"Authorization": "Basic abc"})
    assert basic.status_code == 401


def test_session_login_writes_to_the_api_need_csrf(app, client, make_user):
    user = make_user("research_worker", ["BU"])
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        page = client.get("/login").get_data(as_text=True)
        csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
        client.post(
            "/login", data={"email": user.email, "password": "correct horse 1", "csrf_token": csrf}
        )
        body = {"site": "BU", "category": "psw", "gender": "male", "year_of_birth": 1980}
        assert client.post("/api/v1/participants", json=body).status_code == 400
        with_token = client.post("/api/v1/participants", json=body, headers={"X-CSRFToken": csrf})
        assert with_token.status_code == 201
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_inactive_user_cannot_use_tokens(api_as, db_session):
    api = api_as("research_worker", ["BU"])
    user = db_session.get(User, api.user.id)
    user.active = False
    db_session.commit()
    assert api.get("/api/v1/me").status_code == 401


def test_every_endpoint_declares_a_known_permission(app):
    known = set().union(*ROLE_PERMISSIONS.values()) | {"public"}
    declared = endpoint_permissions(app)
    assert declared, "no endpoints found"
    assert {perm for perm in declared.values()} <= known
    assert set(ROLE_PERMISSIONS) == set(ROLES)


def test_an_endpoint_without_permission_stops_the_app(tmp_path):
    from flask import Blueprint

    from trialdm import create_app
    from trialdm.auth.permissions import check_endpoint_permissions

    app = create_app(
        {"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "SECRET_KEY": "x"},
        environ={"TRIALDM_INSTANCE_PATH": str(tmp_path)},
    )
    bp = Blueprint("careless", __name__)
    bp.add_url_rule("/careless", "careless", lambda: "leak")
    app.register_blueprint(bp)
    with pytest.raises(RuntimeError, match=r"careless\.careless GET"):
        check_endpoint_permissions(app)


def test_research_worker_cannot_manage_users(api_as):
    assert api_as("research_worker", ["BU"]).get("/api/v1/users").status_code == 403
    assert api_as("coordinator").post("/api/v1/users", json={}).status_code == 403


def test_admin_creates_users_with_checked_grants(api_as, db_session):
    admin = api_as("admin")
    bad = admin.post("/api/v1/users", json={"email": "x@test.org", "role": "research_worker"})
    assert bad.status_code == 422 and "sites" in bad.json["errors"]
    unknown = admin.post(
        "/api/v1/users", json={"email": "x@test.org", "role": "research_worker", "sites": ["ZZ"]}
    )
    assert unknown.json["errors"]["sites"] == ["Unknown site 'ZZ'."]
    ok = admin.post("/api/v1/users", json={"email": "X@Test.org", "role": "coordinator"})
    assert ok.status_code == 201 and ok.json["email"] == "x@test.org"
    duplicate = admin.post("/api/v1/users", json={"email": "x@test.org", "role": "coordinator"})
    assert duplicate.status_code == 422
    assert db_session.scalar(select(User).where(User.email == "x@test.org")) is not None
