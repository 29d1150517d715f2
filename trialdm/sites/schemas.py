from __future__ import annotations

import marshmallow as ma

from trialdm.core.schemas import DumpSchema


class SiteOut(DumpSchema):
    code = ma.fields.String()
    name = ma.fields.String()
    country = ma.fields.String()
    city = ma.fields.String()
    languages = ma.fields.List(ma.fields.String())
    timezone = ma.fields.String()
    label = ma.fields.String()
