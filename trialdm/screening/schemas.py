from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from trialdm.core.pagination import PageArgs, PageMeta
from trialdm.core.schemas import DumpSchema, LoadSchema, ReasonSchema, Site
from trialdm.screening.models import OUTCOMES


class ScreeningFields(ma.Schema):
    screening_date = ma.fields.Date()
    outcome = ma.fields.String(validate=validate.OneOf(OUTCOMES))
    outcome_reason = ma.fields.String(
        allow_none=True,
        validate=validate.Length(max=2000),
        metadata={"description": "Why not eligible, or why the person declined"},
    )
    participant_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "The participant, once enrolled"}
    )
    notes = ma.fields.String(allow_none=True, validate=validate.Length(max=5000))


class ScreeningCreate(ScreeningFields, LoadSchema):
    site = Site(required=True)
    screening_date = ma.fields.Date(required=True)
    outcome = ma.fields.String(required=True, validate=validate.OneOf(OUTCOMES))


class ScreeningUpdate(ScreeningFields, ReasonSchema):
    pass


class ScreeningOut(DumpSchema):
    id = ma.fields.Integer()
    site = ma.fields.String()
    screening_date = ma.fields.Date()
    outcome = ma.fields.String()
    outcome_reason = ma.fields.String(allow_none=True)
    participant_id = ma.fields.Integer(allow_none=True)
    notes = ma.fields.String(allow_none=True)
    version = ma.fields.Integer(attribute="version_id")
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class ScreeningQuery(PageArgs):
    class Meta:
        unknown = ma.RAISE

    site = Site()
    outcome = ma.fields.String(validate=validate.OneOf(OUTCOMES))
    date_from = ma.fields.Date()
    date_to = ma.fields.Date()


class ScreeningPage(DumpSchema):
    items = ma.fields.List(ma.fields.Nested(ScreeningOut))
    meta = ma.fields.Nested(PageMeta)


class DeleteArgs(LoadSchema):
    reason = ma.fields.String(required=True, validate=validate.Length(min=1, max=2000))
