from sqlalchemy import select

from trialdm.auth.models import ApiToken, User


def test_users_create_and_token(app, db_session):
    runner = app.test_cli_runner()
    created = runner.invoke(
        args=["users", "create", "Lead@BU.org", "--role", "site_lead", "--site", "bu"]
    )
    assert created.exit_code == 0, created.output
    assert "created lead@bu.org: site_lead at bu" in created.output
    user = db_session.scalar(select(User).where(User.email == "lead@bu.org"))
    assert [(m.role, m.site_code) for m in user.memberships] == [("site_lead", "BU")]
    token = runner.invoke(args=["users", "token", "lead@bu.org"])
    assert token.exit_code == 0 and token.output.startswith("tdm_")
    assert db_session.scalar(select(ApiToken).where(ApiToken.user_id == user.id)) is not None
    response = app.test_client().get(
        "/api/v1/me", headers={"Authorization": f"Bearer {token.output.strip()}"}
    )
    assert response.json["email"] == "lead@bu.org"


def test_users_create_refuses_bad_input_clearly(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "x@test.org", "--role", "research_worker"])
    assert result.exit_code == 1
    assert "sites: A research_worker needs at least one site." in result.output
    result = runner.invoke(args=["users", "create", "x@test.org", "--role", "boss"])
    assert "role: Unknown role 'boss'" in result.output
    result = runner.invoke(args=["users", "token", "ghost@test.org"])
    assert "No user ghost@test.org." in result.output


def test_sites_sync_reports_nothing_changed_the_second_time(app):
    result = app.test_cli_runner().invoke(args=["sites", "sync"])
    assert result.exit_code == 0
    assert "0 added, 0 updated, 6 unchanged" in result.output


def test_demo_load_once(app, db_session):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    assert "users: 13 users" in first.output
    second = runner.invoke(args=["demo", "load"])
    assert "already loaded" in second.output


def test_demo_accounts_names_every_account_with_its_role(app):
    from trialdm.demo.operations import DEMO_USERS

    result = app.test_cli_runner().invoke(args=["demo", "accounts"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    roles = {"research_worker": "Research worker", "site_lead": "Site lead", "admin": "Admin"}
    for email, role, sites in DEMO_USERS:
        shown = roles.get(role, role.capitalize())  # the role's name, not its code
        assert any(email in line and shown in line for line in lines), email
        assert all(site in next(line for line in lines if email in line) for site in sites)
    assert "research_worker" not in result.output
    assert "password: demo-password" in result.output
