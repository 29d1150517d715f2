from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from trialdm.core.limits import KEY, at_most
from trialdm.core.pagination import PageArgs, PageMeta
from trialdm.core.schemas import DumpSchema, LoadSchema, Site

INBOX_STATES = ("unread", "read", "snoozed", "all")
READER_LANGUAGE = (
    "In the language of the request's Accept-Language, else the user's own language "
    "setting, dates and numbers written for it"
)


class InboxQuery(PageArgs):
    class Meta:
        unknown = ma.RAISE

    state = ma.fields.String(
        load_default="unread",
        validate=validate.OneOf(INBOX_STATES),
        metadata={"description": "unread (not snoozed; the default), read, snoozed or all"},
    )
    rule = ma.fields.String(validate=at_most(KEY))
    site = Site()


class InboxEntryOut(DumpSchema):
    id = ma.fields.Integer()
    reminder_id = ma.fields.Integer()
    rule = ma.fields.String(attribute="reminder.rule")
    site = ma.fields.String(attribute="reminder.site_code", allow_none=True)
    title = ma.fields.String(
        attribute="reminder.shown_title", metadata={"description": READER_LANGUAGE}
    )
    body = ma.fields.String(attribute="reminder.shown_body")
    link = ma.fields.String(attribute="reminder.link")
    local_date = ma.fields.Date(attribute="reminder.local_date")
    created_at = ma.fields.DateTime()
    read_at = ma.fields.DateTime(allow_none=True)
    snoozed_until = ma.fields.Date(allow_none=True)
    mail = ma.fields.String(metadata={"description": "immediate or daily"})


class InboxPage(DumpSchema):
    items = ma.fields.List(ma.fields.Nested(InboxEntryOut))
    meta = ma.fields.Nested(PageMeta)


class ReadIn(LoadSchema):
    read = ma.fields.Boolean(load_default=True)


class SnoozeIn(LoadSchema):
    until = ma.fields.Date(
        required=True, allow_none=True, metadata={"description": "Hide until this day; null wakes"}
    )


class FoundQuery(PageArgs):
    class Meta:
        unknown = ma.RAISE

    rule = ma.fields.String(validate=at_most(KEY))
    site = Site()
    since = ma.fields.Date(metadata={"description": "Found on or after this site-local day"})


class ReminderOut(DumpSchema):
    id = ma.fields.Integer()
    rule = ma.fields.String()
    site = ma.fields.String(attribute="site_code", allow_none=True)
    subject_type = ma.fields.String()
    subject_id = ma.fields.String()
    period = ma.fields.String()
    title = ma.fields.String(attribute="shown_title", metadata={"description": READER_LANGUAGE})
    body = ma.fields.String(attribute="shown_body")
    link = ma.fields.String()
    local_date = ma.fields.Date()
    created_at = ma.fields.DateTime()
    status = ma.fields.String()
    delivered_at = ma.fields.DateTime(allow_none=True)
    recipients = ma.fields.Method("count_recipients")

    def count_recipients(self, reminder) -> int:
        return len(reminder.recipients or [])


class ReminderPage(DumpSchema):
    items = ma.fields.List(ma.fields.Nested(ReminderOut))
    meta = ma.fields.Nested(PageMeta)


class FailedMailQuery(PageArgs):
    class Meta:
        unknown = ma.RAISE

    site = Site()


class MessageOut(DumpSchema):
    id = ma.fields.Integer()
    site = ma.fields.String(attribute="site_code", allow_none=True)
    kind = ma.fields.String()
    to_address = ma.fields.String()
    subject = ma.fields.String()
    status = ma.fields.String()
    attempts = ma.fields.Integer()
    last_error = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    next_attempt_at = ma.fields.DateTime()


class MessagePage(DumpSchema):
    items = ma.fields.List(ma.fields.Nested(MessageOut))
    meta = ma.fields.Nested(PageMeta)
