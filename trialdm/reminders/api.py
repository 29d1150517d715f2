"""``/api/v1/reminders``: one's inbox (read, snooze), the reminders found at one's
sites, and e-mails that could not be delivered (site leads)."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from trialdm.auth.permissions import current_principal, requires
from trialdm.core.pagination import order_by, paginate
from trialdm.core.scoping import require_site
from trialdm.extensions import db
from trialdm.reminders import operations, queries
from trialdm.reminders.models import InboxEntry, OutboxMessage, Reminder
from trialdm.reminders.schemas import (
    FailedMailQuery,
    FoundQuery,
    InboxEntryOut,
    InboxPage,
    InboxQuery,
    MessageOut,
    MessagePage,
    ReminderPage,
    SnoozeIn,
)

blp = Blueprint(
    "reminders",
    __name__,
    url_prefix="/api/v1/reminders",
    description="Your reminder inbox, reminders found at your sites, undeliverable e-mail",
)


def _user_id() -> int:
    principal = current_principal()
    assert principal is not None  # requires() has refused anonymous callers
    return principal.user_id


@blp.route("")
class Inbox(MethodView):
    @requires("reminders.read")
    @blp.arguments(InboxQuery, location="query")
    @blp.response(200, InboxPage)
    def get(self, args):
        """Your reminders: unread and not snoozed by default (``state`` for others)."""
        stmt = queries.inbox_query(_user_id(), args)
        sort = args.get("sort") or "-created_at"
        stmt = order_by(stmt, sort, queries.INBOX_SORTABLE, InboxEntry.id)
        return paginate(db.session, stmt, args, InboxEntry.id)


@blp.route("/<int:entry_id>/read")
class EntryRead(MethodView):
    @requires("reminders.inbox")
    @blp.response(200, InboxEntryOut)
    def post(self, entry_id):
        """Mark one of your reminders read."""
        entry = queries.get_entry(db.session, _user_id(), entry_id)
        require_site(entry.site_code, hide=True)
        return operations.mark_read(db.session, entry)

    @requires("reminders.inbox")
    @blp.response(200, InboxEntryOut)
    def delete(self, entry_id):
        """Mark one of your reminders unread again."""
        entry = queries.get_entry(db.session, _user_id(), entry_id)
        require_site(entry.site_code, hide=True)
        return operations.mark_read(db.session, entry, read=False)


@blp.route("/<int:entry_id>/snooze")
class EntrySnooze(MethodView):
    @requires("reminders.inbox")
    @blp.arguments(SnoozeIn)
    @blp.response(200, InboxEntryOut)
    def post(self, data, entry_id):
        """Hide one of your reminders until a day (``null`` wakes it now)."""
        entry = queries.get_entry(db.session, _user_id(), entry_id)
        require_site(entry.site_code, hide=True)
        return operations.snooze(db.session, entry, data["until"])


@blp.route("/found")
class Found(MethodView):
    @requires("reminders.read")
    @blp.arguments(FoundQuery, location="query")
    @blp.response(200, ReminderPage)
    def get(self, args):
        """Reminders found at your sites (what the weekly digests count), by rule and site."""
        stmt = order_by(
            queries.found_query(args), args.get("sort"), queries.FOUND_SORTABLE, Reminder.id
        )
        return paginate(db.session, stmt, args, Reminder.id)


@blp.route("/failed-mail")
class FailedMail(MethodView):
    @requires("reminders.failures")
    @blp.arguments(FailedMailQuery, location="query")
    @blp.response(200, MessagePage)
    def get(self, args):
        """E-mails of your sites whose sending failed for good."""
        stmt = order_by(queries.failed_mail_query(args), None, {}, OutboxMessage.id)
        return paginate(db.session, stmt, args, OutboxMessage.id)


@blp.route("/failed-mail/<int:message_id>/retry")
class FailedMailRetry(MethodView):
    @requires("reminders.failures")
    @blp.response(200, MessageOut)
    def post(self, message_id):
        """Try a failed e-mail again (a fresh set of tries)."""
        message = queries.get_failed_message(db.session, message_id)
        require_site(message.site_code, hide=True)
        return operations.retry_failed_message(db.session, message)
