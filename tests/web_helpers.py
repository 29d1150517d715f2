"""Helpers for page tests: log in through the login form as a new user."""

from __future__ import annotations

from typing import Any

from flask import template_rendered
from flask.testing import FlaskClient

PASSWORD = "correct horse 1"


def login(client: FlaskClient, user: Any) -> FlaskClient:
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.data[:500]
    return client


def page_as(app, make_user, role: str, sites: list[str] | None = None) -> FlaskClient:
    """A fresh browser-like client logged in as a new user of ``role``."""
    return login(app.test_client(), make_user(role, sites))


def shown_widgets(app, client) -> dict[str, dict]:
    """The data of every widget of the dashboard ``client`` is shown."""
    shown: dict[str, dict] = {}

    def record(sender, template, context, **extra) -> None:
        if "widgets" in context:
            shown.update({widget.name: data for widget, data in context["widgets"]})

    template_rendered.connect(record, app)
    try:
        assert client.get("/").status_code == 200
    finally:
        template_rendered.disconnect(record, app)
    return shown
