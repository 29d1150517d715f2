from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from trialdm.auth.permissions import ROLES
from trialdm.core.limits import PASSWORD, SITE_CODE, at_most
from trialdm.core.schemas import DumpSchema, LoadSchema


class MembershipOut(DumpSchema):
    id = ma.fields.Integer()
    role = ma.fields.String()
    site = ma.fields.String(attribute="site_code", allow_none=True)
    version = ma.fields.Integer(
        attribute="version_id", metadata={"description": "Send in If-Match to remove it"}
    )


class UserOut(DumpSchema):
    id = ma.fields.Integer()
    email = ma.fields.String()
    display_name = ma.fields.String(allow_none=True)
    active = ma.fields.Boolean()
    locale = ma.fields.String()
    memberships = ma.fields.List(ma.fields.Nested(MembershipOut))
    last_login_at = ma.fields.DateTime(allow_none=True)
    version = ma.fields.Integer(
        attribute="version_id", metadata={"description": "Send in If-Match to change it"}
    )


class UserCreate(LoadSchema):
    email = ma.fields.Email(validate=at_most(254), required=True)
    role = ma.fields.String(required=True, validate=validate.OneOf(ROLES))
    sites = ma.fields.List(ma.fields.String(validate=at_most(SITE_CODE)), load_default=list)
    password = ma.fields.String(validate=at_most(PASSWORD), load_default=None, load_only=True)
    display_name = ma.fields.String(validate=at_most(120), load_default=None)


class GrantIn(LoadSchema):
    role = ma.fields.String(required=True, validate=validate.OneOf(ROLES))
    sites = ma.fields.List(ma.fields.String(validate=at_most(SITE_CODE)), load_default=list)


class UserUpdate(LoadSchema):
    active = ma.fields.Boolean()
    display_name = ma.fields.String(validate=at_most(120), allow_none=True)
    locale = ma.fields.String(validate=validate.Length(min=2, max=8))
    mail_preference = ma.fields.String(validate=validate.OneOf(["immediate", "daily"]))


class TokenCreate(LoadSchema):
    name = ma.fields.String(load_default="", validate=validate.Length(max=120))
    redcap = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "A REDCap-style token (32 hex characters) for POST /api/"},
    )


class TokenOut(DumpSchema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    prefix = ma.fields.String()
    created_at = ma.fields.DateTime()
    last_used_at = ma.fields.DateTime(allow_none=True)
    revoked_at = ma.fields.DateTime(allow_none=True)


class NewTokenOut(TokenOut):
    token = ma.fields.String(
        attribute="plain_token", metadata={"description": "Shown once; store it now"}
    )
