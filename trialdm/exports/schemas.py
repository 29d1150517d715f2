from __future__ import annotations

import marshmallow as ma

from trialdm.core.limits import KEY, SITE_CODE, at_most
from trialdm.core.pagination import PageArgs, PageMeta
from trialdm.core.schemas import DumpSchema, LoadSchema
from trialdm.exports.models import FORMATS, IDENTIFIER_MODES, LABEL_MODES, STATES


class ExportCreate(LoadSchema):
    scope = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=8),
        metadata={"description": "'all' for every site (coordinators), or a site code"},
    )
    format = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(FORMATS),
        metadata={"description": "csv, spss (.sav), stata (.dta), r (CSV + script), odm, audit"},
    )
    datasets = ma.fields.List(
        ma.fields.String(validate=at_most(KEY)),
        load_default=None,
        validate=ma.validate.Length(min=1),
        metadata={"description": "Instrument names and tables; omit for all of them"},
    )
    labels = ma.fields.String(
        load_default="raw",
        validate=ma.validate.OneOf(LABEL_MODES),
        metadata={"description": "CSV cells as codes (raw) or as their labels"},
    )
    identifiers = ma.fields.String(
        load_default="include",
        validate=ma.validate.OneOf(IDENTIFIER_MODES),
        metadata={"description": "exclude: leave out fields flagged as identifying"},
    )


class ExportJobOut(DumpSchema):
    id = ma.fields.Integer()
    scope = ma.fields.String()
    site = ma.fields.String(attribute="site_code", allow_none=True)
    format = ma.fields.String()
    datasets = ma.fields.List(ma.fields.String())
    labels = ma.fields.String()
    identifiers = ma.fields.String()
    state = ma.fields.String(metadata={"enum": list(STATES)})
    progress = ma.fields.Integer(metadata={"description": "Percent done"})
    step = ma.fields.String(allow_none=True, metadata={"description": "What the export is doing"})
    error = ma.fields.String(allow_none=True)
    requested_by = ma.fields.String(allow_none=True)
    language = ma.fields.String(
        dump_only=True,
        allow_none=True,
        metadata={"description": "Language of the file's texts (the requester's)"},
    )
    attempts = ma.fields.Integer()
    created_at = ma.fields.DateTime()
    started_at = ma.fields.DateTime(allow_none=True)
    finished_at = ma.fields.DateTime(allow_none=True)
    data_read_at = ma.fields.DateTime(allow_none=True)
    result = ma.fields.Dict(
        allow_none=True, metadata={"description": "Per dataset: rows and what was left out"}
    )
    links = ma.fields.Method("dump_links")

    def dump_links(self, job) -> dict:
        links = {"self": f"/api/v1/exports/{job.id}"}
        if job.state == "done":
            links["download"] = f"/api/v1/exports/{job.id}/download"
        return links


class ExportJobQuery(PageArgs):
    class Meta:
        unknown = ma.RAISE

    state = ma.fields.String(validate=ma.validate.OneOf(STATES))
    scope = ma.fields.String(validate=at_most(SITE_CODE))
    format = ma.fields.String(validate=ma.validate.OneOf(FORMATS))


class ExportJobPage(DumpSchema):
    items = ma.fields.List(ma.fields.Nested(ExportJobOut))
    meta = ma.fields.Nested(PageMeta)


class DatasetList(DumpSchema):
    datasets = ma.fields.List(
        ma.fields.String(), metadata={"description": "Instruments first, then the tables"}
    )
