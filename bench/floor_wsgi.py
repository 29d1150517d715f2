"""Bench-only WSGI entry: the production app plus one floor endpoint.

``POST /api/v1/bench/floor`` inserts one participants row with a single plain
INSERT: no schema validation, no study-ID allocation, no audit row and no token
lookup. It goes through the same server, request edge and commit as the real
endpoints, so its rate is the floor the create path is measured against.
This module is never imported by the application.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, jsonify, request
from sqlalchemy import insert

from trialdm import create_app
from trialdm.auth.permissions import check_endpoint_permissions, public
from trialdm.core.models import utcnow
from trialdm.core.runtime import settle_start_up
from trialdm.extensions import csrf, db
from trialdm.participants.models import Participant

floor = Blueprint("bench_floor", __name__, url_prefix="/api/v1/bench")


@floor.post("/floor")
@public
def insert_floor_row():
    body = request.get_json(force=True) or {}
    now = utcnow()
    table = Participant.__table__
    new_id = db.session.execute(
        insert(table)
        .values(
            site_code=body.get("site", "BU"),
            category=body.get("category", "service_user"),
            study_id=f"FLOOR-{uuid.uuid4().hex[:20]}",
            gender=body.get("gender"),
            year_of_birth=body.get("year_of_birth"),
            created_at=now,
            updated_at=now,
            version_id=1,
        )
        .returning(table.c.id)
    ).scalar_one()
    return jsonify({"id": new_id}), 201


app = create_app()
csrf.exempt(floor)
app.register_blueprint(floor)
check_endpoint_permissions(app)
settle_start_up()  # as trialdm.wsgi, the production entry point, does
