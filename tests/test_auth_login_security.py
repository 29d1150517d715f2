"""Login security: account back-off, per-address throttle behind a proxy, sessions that
end, redirects only to this site, https-only cookies, password policy, admin guards."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import build_app
from tests.web_helpers import PASSWORD, login
from trialdm.auth.models import User
from trialdm.core.audit import AuditEvent
from trialdm.core.models import utcnow
from trialdm.extensions import db


def _attempt(client, user, password, address="10.0.0.1"):
    return client.post(
        "/login",
        data={"email": user.email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


@pytest.fixture
def backoff_after_3(app):
    app.config["LOGIN_BACKOFF_AFTER"] = 3
    yield
    app.config["LOGIN_BACKOFF_AFTER"] = 5


def test_failed_logins_of_one_account_answer_with_a_doubling_wait(
    app, make_user, db_session, backoff_after_3
):
    user = make_user("research_worker", ["BU"])
    stranger = app.test_client()
    statuses = [
        _attempt(stranger, user, "wrong password", f"10.0.0.{i}").status_code for i in range(3)
    ]
    assert statuses == [401, 401, 401]
    # Now the account waits, whatever the address, and even a right password from a
    # browser that never logged in as this account is not checked.
    held = _attempt(app.test_client(), user, PASSWORD, "10.9.9.9")
    assert held.status_code == 429
    assert int(held.headers["Retry-After"]) >= 1
    assert "Too many failed logins for this account" in held.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(User, user.id).failed_logins == 3
    # A fourth failure doubles the wait.
    row = db_session.get(User, user.id)
    row.login_blocked_until = utcnow() - timedelta(seconds=1)
    db_session.commit()
    assert _attempt(stranger, user, "wrong password").status_code == 401
    db_session.expire_all()
    row = db_session.get(User, user.id)
    blocked = row.login_blocked_until.replace(tzinfo=None) - utcnow().replace(tzinfo=None)
    assert timedelta(seconds=2) < blocked <= timedelta(seconds=4)
    events = db_session.scalars(
        select(AuditEvent.action).where(AuditEvent.entity_id == str(user.id))
    ).all()
    assert "login_throttled" in events


def test_the_owner_logs_in_from_a_known_browser_while_someone_guesses(
    app, make_user, db_session, backoff_after_3
):
    user = make_user("research_worker", ["BU"])
    owner = login(app.test_client(), user)
    owner.post("/logout")
    attacker = app.test_client()
    for i in range(6):
        _attempt(attacker, user, f"guess number {i}", f"10.1.0.{i}")
    assert _attempt(attacker, user, PASSWORD).status_code == 429
    back = _attempt(owner, user, PASSWORD)
    assert back.status_code == 302
    db_session.expire_all()
    assert db_session.get(User, user.id).failed_logins == 0


def test_failures_of_other_accounts_do_not_lock_anyone_out(app, make_user):
    victim, other = make_user("research_worker", ["BU"]), make_user("site_lead", ["BU"])
    shared_address = app.test_client()
    for _ in range(12):
        _attempt(shared_address, victim, "wrong password", "10.2.0.1")
    assert _attempt(app.test_client(), other, PASSWORD, "10.2.0.1").status_code == 302


def test_one_address_is_throttled_at_its_own_threshold(app, make_user):
    user = make_user("research_worker", ["BU"])
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    try:
        client = app.test_client()
        statuses = [
            client.post(
                "/login",
                data={"email": f"nobody{i}@test.org", "password": "x"},
                environ_base={"REMOTE_ADDR": "10.3.0.1"},
            ).status_code
            for i in range(4)
        ]
        elsewhere = _attempt(app.test_client(), user, PASSWORD, "10.3.0.2").status_code
    finally:
        app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"
    assert statuses == [401, 401, 401, 429]
    assert elsewhere == 302


def test_behind_a_trusted_proxy_clients_are_told_apart(tmp_path):
    app = build_app(tmp_path, "proxy", PROXY_COUNT=1, LOGIN_RATE_LIMIT="2 per minute")
    client = app.test_client()

    def attempt(forwarded_for: str) -> int:
        return client.post(
            "/login",
            data={"email": "ghost@test.org", "password": "x"},
            headers={"X-Forwarded-For": forwarded_for},
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
        ).status_code

    assert [attempt("203.0.113.5") for _ in range(3)] == [401, 401, 429]
    assert attempt("198.51.100.7") == 401
    with app.app_context():
        db.engine.dispose()


def test_a_copied_session_cookie_stops_working_after_logout(app, make_user):
    user = make_user("research_worker", ["BU"])
    browser = login(app.test_client(), user)
    cookie = browser.get_cookie("session")
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    assert thief.get("/").status_code == 200
    browser.post("/logout")
    assert thief.get("/").status_code == 302
    assert "/login" in thief.get("/").headers["Location"]


def test_password_change_and_deactivation_end_every_session(app, make_user, api_as, db_session):
    from trialdm.auth.operations import set_password

    user = make_user("research_worker", ["BU"])
    browser = login(app.test_client(), user)
    set_password(db_session, db_session.get(User, user.id), "a much longer new phrase 7")
    db_session.commit()
    assert browser.get("/").status_code == 302

    other = make_user("research_worker", ["BU"])
    second = login(app.test_client(), other)
    admin = api_as("admin")
    current = admin.get(f"/api/v1/users/{other.id}")
    response = admin.patch(
        f"/api/v1/users/{other.id}",
        json={"active": False},
        headers={"If-Match": current.headers.get("ETag", "")},
    )
    assert response.status_code == 200, response.json
    assert second.get("/").status_code == 302


@pytest.mark.parametrize(
    "target",
    [
        "/%09/evil.example/phish",
        "/%0d%0aSet-Cookie:x=1",
        "/\\evil.example",
        "https://evil.example/",
    ],
)
def test_login_redirects_only_to_this_site(client, make_user, target):
    user = make_user("research_worker", ["BU"])
    response = client.post(
        f"/login?next={target}", data={"email": user.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_local_next_is_kept(client, make_user):
    user = make_user("research_worker", ["BU"])
    response = client.post(
        "/login?next=/participants?page=2", data={"email": user.email, "password": PASSWORD}
    )
    assert response.headers["Location"] == "/participants?page=2"


def test_https_base_url_makes_cookies_secure_and_sends_hsts(tmp_path):
    from trialdm.auth.operations import create_user

    app = build_app(tmp_path, "https", BASE_URL="https://trialdm.example.org")
    with app.app_context():
        user = create_user(db.session, "secure@test.org", "research_worker", ["BU"], PASSWORD)
        db.session.commit()
        client = app.test_client()
        response = _attempt(client, user, PASSWORD)
        db.engine.dispose()
    assert response.status_code == 302
    cookies = response.headers.getlist("Set-Cookie")
    assert cookies and all("Secure" in c for c in cookies)
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_plain_http_sends_no_hsts(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short one", "Use at least 12 characters."),
        ("password1234", "too easy to guess"),
        ("aaaaaaaaaaaaaaaa", "too easy to guess"),
    ],
)
def test_weak_passwords_are_refused(api_as, password, message):
    admin = api_as("admin")
    response = admin.post(
        "/api/v1/users",
        json={
            "email": "weak@test.org",
            "role": "research_worker",
            "sites": ["BU"],
            "password": password,
        },
    )
    assert response.status_code == 422
    assert message in str(response.json["errors"]["password"])
    assert admin.get("/api/v1/users").json and "weak@test.org" not in str(
        admin.get("/api/v1/users").json
    )


def test_a_password_made_of_the_address_is_refused(db_session):
    from trialdm.auth.operations import password_problem

    assert password_problem("miriam.okello2026", "miriam.okello@site.org") is not None
    assert password_problem("correct horse 1", "miriam.okello@site.org") is None


def test_admins_cannot_deactivate_themselves_or_the_last_admin(api_as, db_session):
    admin = api_as("admin")
    own = admin.get(f"/api/v1/users/{admin.user.id}")
    refused = admin.patch(
        f"/api/v1/users/{admin.user.id}",
        json={"active": False},
        headers={"If-Match": own.headers.get("ETag", "")},
    )
    assert refused.status_code == 409
    assert "your own account" in refused.json["detail"]
    db_session.expire_all()
    assert db_session.get(User, admin.user.id).active is True
