from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from trialdm.core.pagination import PageArgs, PageMeta
from trialdm.core.schemas import DumpSchema, LoadSchema, ReasonSchema, Site


class LinkCreate(LoadSchema):
    participant_id = ma.fields.Integer(required=True, validate=validate.Range(min=1))
    instrument = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    event = ma.fields.String(required=True, validate=validate.Length(min=1, max=16))
    language = ma.fields.String(
        validate=validate.Length(min=2, max=16),
        metadata={"description": "Language of the questionnaire (default: the site's first)"},
    )
    email = ma.fields.Email(
        load_only=True,
        validate=validate.Length(max=254),
        metadata={"description": "Also send the link to this address (kept only in the outbox)"},
    )
    expires_in_days = ma.fields.Integer(
        validate=validate.Range(min=1, max=365),
        metadata={"description": "Valid this many days (default TRIALDM_SELF_REPORT_DAYS)"},
    )


class LinkRevoke(ReasonSchema):
    pass


class LinkOut(DumpSchema):
    id = ma.fields.Integer()
    participant_id = ma.fields.Integer()
    site = ma.fields.String(attribute="site_code")
    instrument = ma.fields.String(attribute="instrument_name")
    event = ma.fields.String()
    language = ma.fields.String()
    state = ma.fields.String(metadata={"description": "open, completed, revoked or expired"})
    expires_at = ma.fields.DateTime()
    completed_at = ma.fields.DateTime(allow_none=True)
    revoked_at = ma.fields.DateTime(allow_none=True)
    revoked_reason = ma.fields.String(allow_none=True)
    response_id = ma.fields.Integer(allow_none=True)
    created_by = ma.fields.String(attribute="created_by_email", allow_none=True)
    created_at = ma.fields.DateTime()


class LinkCreated(LinkOut):
    url = ma.fields.String(metadata={"description": "Shown once: give it to the participant"})
    emailed = ma.fields.Boolean(metadata={"description": "Queued in the outbox to the address"})
    qr_svg = ma.fields.String(metadata={"description": "The link as a QR code (SVG data URI)"})


class LinkQuery(PageArgs):
    class Meta:
        unknown = ma.RAISE

    participant_id = ma.fields.Integer(validate=validate.Range(min=1))
    site = Site()


class LinkPage(DumpSchema):
    items = ma.fields.List(ma.fields.Nested(LinkOut))
    meta = ma.fields.Nested(PageMeta)
