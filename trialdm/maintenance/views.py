"""``/healthz`` (the process answers) and ``/readyz`` (it can serve: database reachable
and migrated, broker reachable). Public, cheap, and they name no secret."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from trialdm.auth.permissions import public
from trialdm.maintenance.checks import readiness

bp = Blueprint("maintenance", __name__)

READY_TIMEOUT_SECONDS = 2.0


@bp.get("/healthz")
@public
def healthz() -> Response:
    response = jsonify(status="alive")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/readyz")
@public
def readyz() -> Response:
    results = readiness(current_app._get_current_object(), READY_TIMEOUT_SECONDS)
    ready = all(result.ok for result in results)
    response = jsonify(
        status="ready" if ready else "not ready",
        checks={r.name: "ok" if r.ok else _public_detail(r.detail) for r in results},
    )
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response


def _public_detail(detail: str) -> str:
    # Addresses stay out of an unauthenticated answer; the reason's kind is enough.
    if "unreachable" in detail:
        return "unreachable"
    if "revision" in detail:
        return "not migrated to the head revision"
    return "failing"
