"""Helpers for page tests: log in through the login form as a new user."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

PASSWORD = "correct horse 1"


def login(client: FlaskClient, user: Any) -> FlaskClient:
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.data[:500]
    return client


def page_as(app, make_user, role: str, sites: list[str] | None = None) -> FlaskClient:
    """A fresh browser-like client logged in as a new user of ``role``."""
    return login(app.test_client(), make_user(role, sites))
