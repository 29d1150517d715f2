from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from trialdm.core.limits import KEY, at_most
from trialdm.core.pagination import MAX_PAGE, PageMeta
from trialdm.core.schemas import DumpSchema, LoadSchema, Site
from trialdm.participants.vocabulary import ARMS
from trialdm.schedule.grid import CELL_STATES
from trialdm.schedule.queries import STATUSES


class AsOfArgs(LoadSchema):
    as_of = ma.fields.Date(
        metadata={"description": "Status as of this date (default: today at the site)"}
    )


LIST_AS_OF = (
    "Status as of this date (default: today at the site listed, else the date every "
    "site in your scope is on, else the server's, while midnight passes between them)"
)


class ScheduleQuery(LoadSchema):
    as_of = ma.fields.Date(metadata={"description": LIST_AS_OF})
    site = Site()
    status = ma.fields.String(validate=validate.OneOf(STATUSES))
    event = ma.fields.String(validate=at_most(KEY))
    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = ma.fields.Integer(load_default=None, validate=validate.Range(min=1))


class ScheduleRowOut(DumpSchema):
    participant_id = ma.fields.Integer()
    study_id = ma.fields.String()
    site = ma.fields.String()
    event = ma.fields.String()
    due_date = ma.fields.Date()
    window_start = ma.fields.Date()
    window_end = ma.fields.Date()
    status = ma.fields.String()
    completed_on = ma.fields.Date(allow_none=True)


class SchedulePage(DumpSchema):
    as_of = ma.fields.Date()
    items = ma.fields.List(ma.fields.Nested(ScheduleRowOut))
    meta = ma.fields.Nested(PageMeta)


class InstrumentStatusOut(DumpSchema):
    instrument = ma.fields.String()
    response_id = ma.fields.Integer(allow_none=True)
    status = ma.fields.String(metadata={"description": "complete, incomplete or missing"})


class EventOut(ScheduleRowOut):
    instruments = ma.fields.List(ma.fields.Nested(InstrumentStatusOut))


class ParticipantScheduleOut(DumpSchema):
    participant_id = ma.fields.Integer()
    study_id = ma.fields.String()
    as_of = ma.fields.Date()
    events = ma.fields.List(ma.fields.Nested(EventOut))


class StatusQuery(LoadSchema):
    as_of = ma.fields.Date(metadata={"description": LIST_AS_OF})
    site = Site()
    arm = ma.fields.String(validate=validate.OneOf(ARMS))
    event = ma.fields.String(
        validate=at_most(KEY), metadata={"description": "Only this event's columns"}
    )
    state = ma.fields.String(
        validate=validate.OneOf(CELL_STATES),
        metadata={"description": "Only participants with a cell in this state"},
    )
    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = ma.fields.Integer(load_default=None, validate=validate.Range(min=1))


class StatusColumnOut(DumpSchema):
    key = ma.fields.String()
    event = ma.fields.String()
    instrument = ma.fields.String()


class StatusCellOut(DumpSchema):
    key = ma.fields.String()
    event = ma.fields.String()
    instrument = ma.fields.String()
    state = ma.fields.String(metadata={"description": ", ".join(CELL_STATES)})
    due_date = ma.fields.Date()
    window_start = ma.fields.Date()
    window_end = ma.fields.Date()
    response_id = ma.fields.Integer(allow_none=True)


class StatusRowOut(DumpSchema):
    participant_id = ma.fields.Integer()
    study_id = ma.fields.String()
    site = ma.fields.String()
    arm = ma.fields.String(allow_none=True)
    cells = ma.fields.List(ma.fields.Nested(StatusCellOut))


class StatusGridOut(DumpSchema):
    as_of = ma.fields.Date()
    columns = ma.fields.List(ma.fields.Nested(StatusColumnOut))
    counts = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer()),
        metadata={"description": "column key -> state -> participants"},
    )
    items = ma.fields.List(ma.fields.Nested(StatusRowOut))
    meta = ma.fields.Nested(PageMeta)
