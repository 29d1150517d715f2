"""Schemathesis against the live API, from its own OpenAPI document, as each role:
no server error, and every answer as documented (status code, content type, body).

Bounded: a few generated requests per operation and role (``FUZZ_EXAMPLES``), in one
rolled-back transaction, so the whole walk takes a minute or two."""

from __future__ import annotations

import os
from collections import defaultdict

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from trialdm.auth.operations import create_token
from trialdm.extensions import db

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
ROLES = [
    ("admin", []),
    ("coordinator", []),
    ("site_lead", ["BU"]),
    ("research_worker", ["BU"]),
    ("translator", ["BU"]),
]


def _describe(exc: BaseException) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return " | ".join(lines[:6])[:600]


def walk(operation, role: str, token: str, failures: dict[str, list[str]]) -> None:
    """A few generated requests to one operation as one role; failures collected."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def call(case):
        try:
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
        except BaseException as exc:  # schemathesis raises a FailureGroup
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures[f"{operation.method.upper()} {operation.path} as {role}"].append(
                _describe(exc)
            )

    call()


def test_every_operation_as_every_role_answers_as_documented(app, db_session, make_user):
    tokens = {}
    for role, sites in ROLES:
        user = make_user(role, sites)
        _, tokens[role] = create_token(db.session, user, "fuzz")
    db.session.commit()
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures: dict[str, list[str]] = defaultdict(list)
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for role, token in tokens.items():
            walk(operation, role, token, failures)
    assert operations > 50
    report = "\n".join(f"{where}: {found[0]}" for where, found in sorted(failures.items()))
    assert not failures, f"{len(failures)} operation/role pairs failed:\n{report}"
