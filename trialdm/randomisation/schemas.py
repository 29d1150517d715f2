from __future__ import annotations

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import validate

from trialdm.core.schemas import DumpSchema, LoadSchema
from trialdm.randomisation.models import ERROR_KINDS


class RandomisationErrorCreate(LoadSchema):
    kind = ma.fields.String(
        required=True,
        validate=validate.OneOf(ERROR_KINDS),
        metadata={"description": "What went wrong: " + ", ".join(ERROR_KINDS)},
    )
    description = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=5000),
        metadata={"description": "What happened and what was done about it"},
    )


class RandomisationErrorOut(DumpSchema):
    id = ma.fields.Integer()
    kind = ma.fields.String()
    description = ma.fields.String()
    recorded_by = ma.fields.String(attribute="recorded_by_email", allow_none=True)
    recorded_at = ma.fields.DateTime(attribute="created_at")


class RandomisationOut(DumpSchema):
    """What people who enrol see: the arm, when and by whom; never the list position."""

    participant_id = ma.fields.Integer()
    study_id = ma.fields.String()
    site = ma.fields.String(attribute="site_code")
    arm = ma.fields.String()
    stratum = ma.fields.String()
    randomised_at = ma.fields.DateTime()
    randomised_by = ma.fields.String(attribute="randomised_by_email", allow_none=True)
    errors = ma.fields.List(ma.fields.Nested(RandomisationErrorOut))


class AllocationListOut(DumpSchema):
    id = ma.fields.Integer()
    source = ma.fields.String()
    active = ma.fields.Boolean()
    slot_count = ma.fields.Integer()
    scheme = ma.fields.Dict()
    file_name = ma.fields.String(allow_none=True)
    seed = ma.fields.String(
        allow_none=True, metadata={"description": "Regenerates a generated list (keep it secret)"}
    )
    created_by = ma.fields.String(attribute="created_by_email", allow_none=True)
    created_at = ma.fields.DateTime()


class AllocationListPage(DumpSchema):
    items = ma.fields.List(ma.fields.Nested(AllocationListOut))


class ListReplacement(LoadSchema):
    reason = ma.fields.String(
        validate=validate.Length(min=1, max=2000),
        metadata={"description": "Why a list in use is replaced (audited)"},
    )


class ListUpload(LoadSchema):
    """A multipart body: the CSV file, and the reason when a list in use is replaced."""

    file = Upload(required=True)
    reason = ma.fields.String(
        validate=validate.Length(min=1, max=2000),
        metadata={"description": "Why a list in use is replaced (audited)"},
    )


class StratumBalance(DumpSchema):
    site = ma.fields.String()
    stratum = ma.fields.String()
    arms = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    allocated = ma.fields.Integer()
    imbalance = ma.fields.Integer(
        metadata={"description": "Participants away from the ratio (1:1: |a - b|)"}
    )
    positions_left = ma.fields.Integer(allow_none=True)


class TotalBalance(DumpSchema):
    arms = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    allocated = ma.fields.Integer()
    imbalance = ma.fields.Integer()


class BalanceOut(DumpSchema):
    list_id = ma.fields.Integer(allow_none=True)
    ratio = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    strata = ma.fields.List(ma.fields.Nested(StratumBalance))
    totals = ma.fields.Nested(TotalBalance)
