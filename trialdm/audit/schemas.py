from __future__ import annotations

import marshmallow as ma

from trialdm.core.limits import KEY, SEARCH, at_most
from trialdm.core.pagination import PageArgs, PageMeta
from trialdm.core.schemas import DumpSchema, Site


class AuditQuery(PageArgs):
    class Meta:
        unknown = ma.RAISE

    entity = ma.fields.String(validate=at_most(KEY))
    entity_id = ma.fields.String(data_key="id", validate=at_most(KEY))
    site = Site()
    user = ma.fields.String(validate=at_most(SEARCH), metadata={"description": "User id or e-mail"})
    action = ma.fields.String(validate=at_most(KEY))
    since = ma.fields.DateTime()
    until = ma.fields.DateTime()


class AuditEventOut(DumpSchema):
    id = ma.fields.Integer()
    at = ma.fields.DateTime()
    user_id = ma.fields.Integer(allow_none=True)
    user_email = ma.fields.String(allow_none=True)
    role = ma.fields.String(allow_none=True)
    source = ma.fields.String()
    action = ma.fields.String()
    entity = ma.fields.String()
    entity_id = ma.fields.String(allow_none=True)
    site = ma.fields.String(attribute="site_code", allow_none=True)
    changes = ma.fields.Dict()
    reason = ma.fields.String(allow_none=True)


class AuditPage(DumpSchema):
    items = ma.fields.List(ma.fields.Nested(AuditEventOut))
    meta = ma.fields.Nested(PageMeta)
