"""Input and output of queries, signatures and check runs."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from trialdm.core.errors import N_
from trialdm.core.limits import EVENT, KEY, at_most
from trialdm.core.pagination import PageArgs, PageMeta
from trialdm.core.schemas import DumpSchema, LoadSchema, Site
from trialdm.quality.models import QUERY_STATUSES

TEXT = validate.Length(min=1, max=4000)


class QueryOpen(LoadSchema):
    """A query on a participant's record, on one response, or on one field of either."""

    participant_id = ma.fields.Integer(metadata={"description": "The record asked about"})
    response_id = ma.fields.Integer(metadata={"description": "The response asked about"})
    field = ma.fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={"description": "A field of the response, or of the record without one"},
    )
    question = ma.fields.String(required=True, validate=TEXT)

    @ma.validates_schema
    def _target(self, data, **kwargs):
        if data.get("participant_id") is None and data.get("response_id") is None:
            raise ma.ValidationError(
                N_("Give the participant_id or the response_id the query is about."),
                "participant_id",
            )


class QueryAnswer(LoadSchema):
    text = ma.fields.String(required=True, validate=TEXT)


class QueryClose(LoadSchema):
    text = ma.fields.String(validate=TEXT, metadata={"description": "Why it is closed"})


class QueryReopen(LoadSchema):
    text = ma.fields.String(required=True, validate=TEXT)


class QueryMessageOut(DumpSchema):
    action = ma.fields.String()
    text = ma.fields.String()
    author = ma.fields.String(attribute="author_name")
    at = ma.fields.DateTime(attribute="created_at")


class QueryOut(DumpSchema):
    id = ma.fields.Integer()
    site = ma.fields.String(attribute="site_code")
    participant_id = ma.fields.Integer()
    response_id = ma.fields.Integer(allow_none=True)
    field = ma.fields.String(allow_none=True)
    status = ma.fields.String()
    origin = ma.fields.String()
    rule = ma.fields.String(attribute="rule_name", allow_none=True)
    question = ma.fields.String()
    opened_by = ma.fields.String(attribute="opened_by_name")
    opened_at = ma.fields.DateTime()
    answered_at = ma.fields.DateTime(allow_none=True)
    closed_at = ma.fields.DateTime(allow_none=True)
    version = ma.fields.Integer(attribute="version_id")
    messages = ma.fields.List(ma.fields.Nested(QueryMessageOut))


class QueryFilter(PageArgs):
    class Meta:
        unknown = ma.RAISE

    site = Site()
    participant_id = ma.fields.Integer()
    response_id = ma.fields.Integer()
    field = ma.fields.String(validate=at_most(KEY))
    status = ma.fields.String(validate=validate.OneOf(QUERY_STATUSES))
    origin = ma.fields.String(validate=validate.OneOf(("manual", "check")))
    rule = ma.fields.String(validate=at_most(KEY))


class QueryExportArgs(LoadSchema):
    site = Site()
    participant_id = ma.fields.Integer()
    status = ma.fields.String(validate=validate.OneOf(QUERY_STATUSES))


class QueryPage(DumpSchema):
    items = ma.fields.List(ma.fields.Nested(QueryOut))
    meta = ma.fields.Nested(PageMeta)


class QueryCountsOut(DumpSchema):
    site = ma.fields.String()
    open = ma.fields.Integer()
    answered = ma.fields.Integer()
    closed = ma.fields.Integer()


class SignatureCreate(LoadSchema):
    """Sign one completed response, or every response of a participant at an event.
    The signer's password is asked again (21 CFR 11.200)."""

    response_id = ma.fields.Integer()
    participant_id = ma.fields.Integer()
    event = ma.fields.String(validate=validate.Length(min=1, max=16))
    password = ma.fields.String(
        required=True, load_only=True, validate=validate.Length(min=1, max=1024)
    )

    @ma.validates_schema
    def _target(self, data, **kwargs):
        form = data.get("response_id") is not None
        event = data.get("participant_id") is not None or data.get("event") is not None
        if form == event:
            raise ma.ValidationError(
                N_("Give a response_id (one form) or a participant_id and an event (the event)."),
                "response_id",
            )
        if event and (data.get("participant_id") is None or not data.get("event")):
            raise ma.ValidationError(
                N_("An event signature needs both participant_id and event."), "event"
            )


class SignatureOut(DumpSchema):
    id = ma.fields.Integer()
    site = ma.fields.String(attribute="site_code")
    scope = ma.fields.String()
    participant_id = ma.fields.Integer()
    event = ma.fields.String(allow_none=True)
    response_id = ma.fields.Integer(allow_none=True)
    response_ids = ma.fields.Method("dump_response_ids")
    meaning = ma.fields.String()
    signer = ma.fields.String(attribute="signer_name")
    signed_at = ma.fields.DateTime()
    standing = ma.fields.Boolean()
    unlocked_at = ma.fields.DateTime(allow_none=True)
    unlocked_by = ma.fields.String(attribute="unlocked_by_name", allow_none=True)
    unlock_reason = ma.fields.String(allow_none=True)
    version = ma.fields.Integer(attribute="version_id")

    def dump_response_ids(self, signature) -> list[int]:
        return [int(item.split(":")[0]) for item in signature.signed_versions.split(",") if item]


class SignatureFilter(PageArgs):
    class Meta:
        unknown = ma.RAISE

    site = Site()
    participant_id = ma.fields.Integer()
    response_id = ma.fields.Integer()
    event = ma.fields.String(validate=at_most(EVENT))
    standing = ma.fields.Boolean()


class SignaturePage(DumpSchema):
    items = ma.fields.List(ma.fields.Nested(SignatureOut))
    meta = ma.fields.Nested(PageMeta)


class UnlockArgs(LoadSchema):
    reason = ma.fields.String(required=True, validate=validate.Length(min=1, max=2000))


class CheckRunArgs(LoadSchema):
    site = Site(required=True)


class CheckRunOut(DumpSchema):
    site = ma.fields.String()
    rules = ma.fields.Integer()
    failures = ma.fields.Integer()
    opened = ma.fields.Integer()


class RuleOut(DumpSchema):
    name = ma.fields.String()
    kind = ma.fields.String()
    message = ma.fields.String()
    on_save = ma.fields.Boolean()
