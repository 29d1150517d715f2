from __future__ import annotations

import marshmallow as ma

from trialdm.core.limits import KEY, SITE_CODE, at_most
from trialdm.core.pagination import PageArgs, PageMeta
from trialdm.core.schemas import DumpSchema, LoadSchema
from trialdm.summaries.models import STATES


class SummaryCreate(LoadSchema):
    scope = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=8),
        metadata={"description": "'all' for the cross-site workbook, or a site code"},
    )
    tables = ma.fields.List(
        ma.fields.String(validate=at_most(KEY)),
        load_default=None,
        validate=ma.validate.Length(min=1),
        metadata={"description": "Table names; omit for all of them"},
    )


class SummaryJobOut(DumpSchema):
    id = ma.fields.Integer()
    scope = ma.fields.String()
    site = ma.fields.String(attribute="site_code", allow_none=True)
    tables = ma.fields.List(ma.fields.String())
    state = ma.fields.String(metadata={"enum": list(STATES)})
    progress = ma.fields.Integer(metadata={"description": "Percent done"})
    step = ma.fields.String(allow_none=True, metadata={"description": "What the build is doing"})
    error = ma.fields.String(allow_none=True)
    trigger = ma.fields.String()
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
    links = ma.fields.Method("dump_links")

    def dump_links(self, job) -> dict:
        links = {"self": f"/api/v1/summaries/{job.id}"}
        if job.state == "done":
            links["download"] = f"/api/v1/summaries/{job.id}/download"
            links["tables"] = {
                name: f"/api/v1/summaries/{job.id}/tables/{name}" for name in job.tables
            }
            links["documents"] = {
                name: f"/api/v1/summaries/{job.id}/tables/{name}/docx" for name in job.tables
            }
        return links


class SummaryJobQuery(PageArgs):
    class Meta:
        unknown = ma.RAISE

    state = ma.fields.String(validate=ma.validate.OneOf(STATES))
    scope = ma.fields.String(validate=at_most(SITE_CODE))


class SummaryJobPage(DumpSchema):
    items = ma.fields.List(ma.fields.Nested(SummaryJobOut))
    meta = ma.fields.Nested(PageMeta)


class SummaryTableOut(DumpSchema):
    name = ma.fields.String()
    title = ma.fields.String()
    corner = ma.fields.String()
    columns = ma.fields.List(ma.fields.Dict())
    rows = ma.fields.List(ma.fields.Dict())
    footnotes = ma.fields.List(
        ma.fields.String(), metadata={"description": "As a manuscript prints them."}
    )
    notes = ma.fields.List(
        ma.fields.String(), metadata={"description": "Notes on method, kept apart."}
    )
    n_below_header = ma.fields.Boolean(
        metadata={"description": "False when the column headers carry N themselves."}
    )
    listing = ma.fields.Dict()
    chart = ma.fields.Dict()
