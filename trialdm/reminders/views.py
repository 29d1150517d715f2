"""Reminder inbox pages: the dashboard widget (the newest unread reminders) and the
inbox (unread, read, snoozed, all), where one marks a reminder read or unread and
snoozes it until a chosen day. The same schemas, queries and operations as ``api.py``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import login_required

from trialdm.auth.permissions import current_principal, requires
from trialdm.core.models import utcnow
from trialdm.core.pagination import order_by, paginate
from trialdm.extensions import db
from trialdm.reminders import operations, queries
from trialdm.reminders.models import InboxEntry
from trialdm.reminders.schemas import INBOX_STATES, SnoozeIn
from trialdm.web.dashboard import Widget, add_widget
from trialdm.web.forms import FormErrors, submit
from trialdm.web.navigation import local_target

bp = Blueprint("reminder_pages", __name__, url_prefix="/reminders")

WIDGET_SIZE = 5
PER_PAGE = 20


@bp.record_once
def _register(state) -> None:
    # last and folded: on a phone each role's daily work comes first
    add_widget(state.app, Widget("inbox", "reminders.read", "widgets/inbox.html", inbox_data, 90))


def _user_id() -> int:
    principal = current_principal()
    assert principal is not None  # login_required and requires() refused anonymous callers
    return principal.user_id


# Reminders stored before their links were pages named API paths; these open the page.
_OLD_API_LINKS = (
    (re.compile(r"^/api/v1/participants/(\d+)/schedule$"), "/participants/{}#questionnaires"),
    (re.compile(r"^/api/v1/translations/(\d+)$"), "/translation/translations/{}"),
    (re.compile(r"^/api/v1/transcripts/(\d+)$"), "/translation/transcripts/{}"),
    (re.compile(r"^/api/v1/queries/(\d+)$"), "/quality/queries/{}"),
)


def reminder_page(link: str) -> str | None:
    """The page a reminder link opens: rules store page paths (they are mailed too)."""
    if not link:
        return None
    parts = urlsplit(link)
    if not parts.path.startswith("/api/"):
        return local_target(link, "") or None
    if parts.path == "/api/v1/contact-sessions":
        found = parse_qs(parts.query).get("participant_id", [""])[0]
        if found.isdigit():
            return url_for("participant_pages.show", participant_id=int(found))
    for pattern, page in _OLD_API_LINKS:
        hit = pattern.match(parts.path)
        if hit:
            return page.format(hit[1])
    return None


def page_link(entry: InboxEntry) -> str | None:
    return reminder_page(entry.reminder.link)


def inbox_page(state: str, page_number: int, per_page: int) -> dict[str, Any]:
    stmt = order_by(
        queries.inbox_query(_user_id(), {"state": state}),
        "-created_at",
        queries.INBOX_SORTABLE,
        InboxEntry.id,
    )
    return paginate(db.session, stmt, {"page": page_number, "per_page": per_page}, InboxEntry.id)


def inbox_data(session) -> dict[str, Any]:
    return {
        "page": inbox_page("unread", 1, WIDGET_SIZE),
        "link": page_link,
        "snooze_default": default_snooze(),
    }


def default_snooze():
    return utcnow().date() + timedelta(days=7)


def render_index(state: str, errors: dict[str, list[str]], status: int = 200):
    page_number = request.args.get("page", "1")
    return render_template(
        "reminders/index.html",
        states=INBOX_STATES,
        state=state,
        page=inbox_page(state, int(page_number) if page_number.isdigit() else 1, PER_PAGE),
        link=page_link,
        errors=errors,
        snooze_default=default_snooze(),
    ), status


@bp.route("")
@login_required
@requires("reminders.read")
def index():
    state = request.args.get("state", "unread")
    if state not in INBOX_STATES:
        state = "unread"
    return render_index(state, {})


def _back() -> str:
    return local_target(request.form.get("next"), url_for(".index"))


@bp.route("/<int:entry_id>/read", methods=["POST"])
@login_required
@requires("reminders.inbox")
def read(entry_id: int):
    entry = queries.get_entry(db.session, _user_id(), entry_id)
    unread = request.form.get("unread") == "1"
    operations.mark_read(db.session, entry, read=not unread)
    flash(gettext("Marked unread.") if unread else gettext("Marked read."))
    return redirect(_back())


@bp.route("/<int:entry_id>/snooze", methods=["POST"])
@login_required
@requires("reminders.inbox")
def snooze(entry_id: int):
    entry = queries.get_entry(db.session, _user_id(), entry_id)
    until = (request.form.get("until") or "").strip() or default_snooze().isoformat()
    try:
        done = submit(
            SnoozeIn(), {"until": until}, lambda data: operations.snooze(db.session, entry, **data)
        )
    except FormErrors as failed:
        db.session.rollback()
        return render_index("unread", failed.errors, 422)
    flash(gettext("Snoozed until %(day)s.", day=done.snoozed_until.isoformat()))
    return redirect(_back())


@bp.route("/found")
@login_required
@requires("reminders.read")
def found():
    """What the scans found at the user's sites (the page the weekly digests link to),
    by rule and site, newest first."""
    from trialdm.reminders.models import Reminder
    from trialdm.reminders.rules import RULES, rule_label

    args = {k: request.args.get(k, "").strip() for k in ("rule", "site")}
    filters = {k: v.upper() if k == "site" else v for k, v in args.items() if v}
    page_number = request.args.get("page", "1")
    stmt = order_by(queries.found_query(filters), None, {}, Reminder.id.desc())
    page = paginate(
        db.session,
        stmt,
        {"page": int(page_number) if page_number.isdigit() else 1, "per_page": PER_PAGE},
        Reminder.id,
    )
    return render_template(
        "reminders/found.html",
        page=page,
        args={k: v for k, v in args.items() if v},
        rules=[(name, rule_label(name)) for name in RULES],
        link=reminder_page,
    )
