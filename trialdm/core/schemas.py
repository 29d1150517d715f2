"""Schema base classes and fields shared by every domain."""

from __future__ import annotations

import marshmallow as ma

from trialdm.core.limits import SITE_CODE, at_most


class LoadSchema(ma.Schema):
    """Input: unknown fields are an error, never silently dropped."""

    class Meta:
        unknown = ma.RAISE


class DumpSchema(ma.Schema):
    class Meta:
        ordered = True


class ReasonSchema(LoadSchema):
    reason = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=2000),
        metadata={"description": "Why the record is changed or deleted (audit trail)"},
    )


class Site(ma.fields.String):
    """A site code (the API calls it ``site``)."""

    def __init__(self, **kwargs) -> None:
        validators = kwargs.pop("validate", None)
        extra = [validators] if callable(validators) else list(validators or [])
        super().__init__(validate=[at_most(SITE_CODE), *extra], **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        return value.strip().upper()


class Problem(DumpSchema):
    """An RFC 9457 problem; ``errors`` holds messages per field (or header)."""

    type = ma.fields.String(metadata={"description": "about:blank"})
    title = ma.fields.String()
    status = ma.fields.Integer()
    detail = ma.fields.String()
    # field -> messages; a list's or a nested object's messages are keyed by item index
    # or by the nested field ({"diagnoses": {"0": ["..."]}}).
    errors = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Raw())
