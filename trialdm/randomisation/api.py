"""Randomisation: allocate a participant once, record errors beside an allocation;
the statistician's allocation lists and balance report."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from trialdm.auth.permissions import requires
from trialdm.core.errors import N_, ValidationFailed
from trialdm.core.sqlite import run_retrying_when_busy
from trialdm.extensions import db
from trialdm.participants.queries import get_participant
from trialdm.randomisation import lists, operations, queries
from trialdm.randomisation.models import Randomisation
from trialdm.randomisation.schemas import (
    AllocationListOut,
    AllocationListPage,
    BalanceOut,
    ListReplacement,
    ListUpload,
    RandomisationErrorCreate,
    RandomisationErrorOut,
    RandomisationOut,
)

blp = Blueprint(
    "randomisation",
    __name__,
    url_prefix="/api/v1",
    description="Concealed stratified block randomisation",
)


def allocation_out(allocation: Randomisation, study_id: str) -> dict[str, Any]:
    return {
        "participant_id": allocation.participant_id,
        "study_id": study_id,
        "site_code": allocation.site_code,
        "arm": allocation.arm,
        "stratum": allocation.stratum,
        "randomised_at": allocation.randomised_at,
        "randomised_by_email": allocation.randomised_by_email,
        "errors": queries.errors_of(db.session, allocation),
    }


@blp.route("/participants/<int:participant_id>/randomisation")
class ParticipantRandomisation(MethodView):
    @requires("participants.read")
    @blp.response(200, RandomisationOut)
    def get(self, participant_id):
        """The participant's allocation and any errors recorded beside it."""
        participant = get_participant(db.session, participant_id)
        allocation = queries.get_randomisation(db.session, participant.id)
        return allocation_out(allocation, participant.study_id)

    @requires("participants.randomise")
    @blp.response(201, RandomisationOut)
    def post(self, participant_id):
        """Randomise the participant (once): consented, eligible in the screening log,
        enrolled and not allocated yet. The arm comes from the next position of the
        participant's stratum in the concealed allocation list."""

        def allocate() -> tuple[Randomisation, str]:
            participant = get_participant(db.session, participant_id)
            return operations.randomise(db.session, participant), participant.study_id

        allocation, study_id = run_retrying_when_busy(db.session, allocate)
        return (
            allocation_out(allocation, study_id),
            201,
            {"Location": f"/api/v1/participants/{participant_id}/randomisation"},
        )


@blp.route("/participants/<int:participant_id>/randomisation/errors")
class RandomisationErrors(MethodView):
    @requires("participants.randomise")
    @blp.arguments(RandomisationErrorCreate)
    @blp.response(201, RandomisationErrorOut)
    def post(self, data, participant_id):
        """Record a mistake in the allocation; the allocation itself stands unchanged."""
        participant = get_participant(db.session, participant_id)
        allocation = queries.get_randomisation(db.session, participant.id)
        return operations.record_error(db.session, allocation, data), 201


@blp.route("/randomisation/lists")
class AllocationLists(MethodView):
    @requires("randomisation.manage")
    @blp.response(200, AllocationListPage)
    def get(self):
        """Allocation lists, newest first (without their arms)."""
        return {"items": queries.allocation_lists(db.session)}

    @requires("randomisation.manage")
    @blp.arguments(ListReplacement(), required=False)
    @blp.response(201, AllocationListOut)
    def post(self, data):
        """Generate a list from a new secret seed, for every site and stratum of the
        scheme. It replaces the active list; one that participants were allocated from
        only with a ``reason``."""
        return operations.generate_list(db.session, (data or {}).get("reason")), 201


@blp.route("/randomisation/lists/upload")
class AllocationListUpload(MethodView):
    @requires("randomisation.manage")
    @blp.arguments(ListUpload, location="files", content_type="multipart/form-data")
    @blp.response(201, AllocationListOut)
    def post(self, form):
        """Upload the statistician's list as CSV (site, stratum, position, arm, and
        optionally block_number, block_size): all rows or none. A list that participants
        were allocated from is replaced only with a ``reason`` (form field)."""
        upload = form["file"]
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationFailed.field("file", N_("The file is not UTF-8 text.")) from None
        name = upload.filename or "upload.csv"
        return operations.upload_list(db.session, text, name, form.get("reason")), 201


@blp.route("/randomisation/lists/<int:list_id>/export")
class AllocationListExport(MethodView):
    @requires("randomisation.manage")
    @blp.doc(responses={"200": {"description": "The allocation list", "content": {"text/csv": {}}}})
    def get(self, list_id):
        """The whole list as CSV with who was allocated each position (audited)."""
        allocation_list = queries.get_list(db.session, list_id)
        operations.record_list_export(db.session, allocation_list)
        return Response(
            lists.export_rows(queries.export_rows(db.session, allocation_list)),
            mimetype="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="allocation_list_{list_id}.csv"'
            },
        )


@blp.route("/randomisation/balance")
class Balance(MethodView):
    @requires("randomisation.report")
    @blp.response(200, BalanceOut)
    def get(self):
        """Allocations per site, stratum and arm, their distance from the ratio, and the
        positions left in the active list."""
        return queries.balance(db.session)
