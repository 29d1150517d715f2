"""History pages: the history of one record, and the log of a site or the trial.

Pages of each area call :func:`render_history` from a route of their own (so the
record is first looked up under the user's sites); the events come from the same
query as the API's audit trail. Values are shown as people know them: dates in
their language, codes by their labels, people by study ID, each area adding the
formatters of its own fields.

The log (``/log``) lists every change at the user's sites, newest first, filtered by
person, record type, site and dates: site leads see their sites, coordinators and
admins the trial.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

import marshmallow as ma
from flask import Blueprint, render_template, request
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from trialdm.audit.queries import audit_query, history
from trialdm.auth.permissions import current_principal, requires
from trialdm.core.audit import AuditEvent
from trialdm.core.pagination import paginate
from trialdm.extensions import db
from trialdm.web.forms import field_errors
from trialdm.web.labels import LABELS, format_day, label

bp = Blueprint("audit_pages", __name__, url_prefix="/audit")

Formatter = Callable[[Any], str]
# Bookkeeping columns every insert carries; they say nothing to a person.
HIDDEN_FIELDS = frozenset({"id", "site_code", "version_id", "created_at", "updated_at"})
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Record types as people call them (the audit's entity is a table name).
ENTITY_LABELS = {
    "participants": _l("Participant"),
    "participant_diagnoses": _l("Diagnosis"),
    "contact_sessions": _l("Contact session"),
    "qualitative_sessions": _l("Focus group or interview"),
    "qualitative_members": _l("Focus group member"),
    "responses": _l("Questionnaire"),
    "transcripts": _l("Transcript"),
    "translations": _l("Translation"),
    "materials": _l("Material"),
    "screening_entries": _l("Screening log"),
    "summary_jobs": _l("Export"),
    "users": _l("User"),
    "sites": _l("Site"),
    "reminders": _l("Reminder"),
    "memberships": _l("Role of a user"),
    "translation_steps": _l("Translation step"),
    "translation_comments": _l("Translation comment"),
    "segment_translations": _l("Translated segment"),
    "source_segments": _l("Source segment"),
    "material_versions": _l("Material version"),
    "transcript_checks": _l("Transcript check"),
    "pseudonym_key_entries": _l("Pseudonymisation key"),
    "instrument_versions": _l("Questionnaire version"),
    "instrument_label_translations": _l("Questionnaire wording"),
}


# Field names of the audit trail as people call them, for the log (a record's own history
# page passes its area's labels too).
FIELD_NAMES = {
    "study_id": _l("Study ID"),
    "category": _l("Category"),
    "gender": _l("Gender"),
    "year_of_birth": _l("Year of birth"),
    "enrolment_date": _l("Enrolment date"),
    "consent_date": _l("Consent date"),
    "consent_version": _l("Consent form version"),
    "arm": _l("Arm"),
    "status": _l("Status"),
    "state": _l("State"),
    "diagnoses": _l("Diagnoses"),
    "occupation": _l("Occupation"),
    "marital_status": _l("Marital status"),
    "withdrawal_date": _l("Withdrawal date"),
    "withdrawal_reason": _l("Reason for withdrawal"),
    "training_completed": _l("Training completed"),
    "active": _l("Active"),
    "date": _l("Date"),
    "start_time": _l("Start time"),
    "duration_min": _l("Duration (minutes)"),
    "format": _l("Format"),
    "mode": _l("Mode"),
    "place": _l("Place"),
    "location": _l("Location"),
    "notes": _l("Notes"),
    "attendances": _l("Attendees"),
    "psw_links": _l("Peer support workers"),
    "language": _l("Language"),
    "title": _l("Title"),
    "kind": _l("Kind"),
    "text": _l("Text"),
    "body": _l("Comments"),
    "comments": _l("Comments"),
    "decision": _l("Decision"),
    "round": _l("Round"),
    "check_round": _l("Round"),
    "english_text": _l("English translation"),
    "pseudonymised_text": _l("Pseudonymised text"),
    "verbatim_deleted_at": _l("Verbatim text deleted"),
    "recorded_on": _l("Recorded on"),
    "collected_on": _l("Date collected"),
    "participant_id": _l("Participant"),
    "reviewer_id": _l("Reviewer"),
    "assignee_id": _l("Assigned to"),
    "author_id": _l("Author"),
    "due_date": _l("Due date"),
    "started_at": _l("Started"),
    "submitted_at": _l("Submitted"),
    "finished_at": _l("Finished"),
    "position": _l("Position"),
    "segment_key": _l("Segment"),
    "back_translation": _l("Back translation"),
    "needs_update": _l("Needs updating"),
    "term": _l("Name or identifier"),
    "placeholder": _l("Placeholder"),
    "replacements": _l("Replacements"),
    "flags": _l("Flagged tokens"),
    "deleted_at": _l("Deleted"),
    "deleted_reason": _l("Reason for deleting"),
    "session_id": _l("Focus group or interview"),
    "session_kind": _l("Kind"),
    "role": _l("Role"),
    "email": _l("E-mail"),
    "locale": _l("Language"),
    "mail_preference": _l("E-mail reminders"),
    "approved_at": _l("Approved on"),
    "completed_at": _l("Completed on"),
    "last_login_at": _l("Last login"),
    "removed_at": _l("Removed on"),
    "synced_at": _l("Stored on"),
    "number": _l("Number"),
    "note": _l("Note"),
    "key": _l("Segment"),
}


def field_name(name: str) -> str:
    return str(FIELD_NAMES.get(name) or label(name))


def plain_value(value: Any) -> str:
    """A stored value as text a person reads: dates in their language, codes by label."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if isinstance(value, list):
        return ", ".join(plain_value(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{label(k)}: {plain_value(v)}" for k, v in value.items())
    if isinstance(value, str) and _ISO_DAY.match(value):
        try:
            return str(format_day(date.fromisoformat(value)))
        except ValueError:
            return value
    if isinstance(value, str) and value in LABELS:
        return str(LABELS[value])  # a stored code; free text stays as written
    return str(value)


def record_name(event: AuditEvent) -> str:
    """How people name the record of an event, when the event says it (study ID,
    title, name), for the log's record column."""
    changes = event.changes or {}
    for key in ("study_id", "title", "name", "instrument_name"):
        pair = changes.get(key)
        if isinstance(pair, list) and len(pair) == 2 and (pair[1] or pair[0]):
            return str(pair[1] or pair[0])
    return f"#{event.entity_id}" if event.entity_id else ""


def shown_changes(
    changes: Mapping[str, Any], formatters: Mapping[str, Formatter]
) -> list[tuple[str, str, str]]:
    """(field, before, after) as text, bookkeeping fields left out."""
    rows = []
    for name in sorted(changes):
        if name in HIDDEN_FIELDS or (name.endswith("_id") and name not in FIELD_NAMES):
            # a database reference (translation_id, updated_by_id) tells a person nothing
            continue
        pair = changes[name]
        show = formatters.get(name, plain_value)
        if isinstance(pair, list | tuple) and len(pair) == 2:
            rows.append((name, show(pair[0]) if pair[0] is not None else "—", show(pair[1])))
        else:
            rows.append((name, "", show(pair)))
    return rows


def entity_name(entity: str) -> str:
    return str(ENTITY_LABELS.get(entity) or label(entity))


def render_history(
    entity: str,
    entity_id: Any,
    *,
    title: str,
    back: str,
    labels: Mapping[str, Any],
    formatters: Mapping[str, Formatter] | None = None,
) -> str:
    events = history(db.session, entity, entity_id)
    return render_template(
        "audit/history.html",
        events=[(e, shown_changes(e.changes or {}, formatters or {})) for e in events],
        title=title,
        back=back,
        labels={**FIELD_NAMES, **labels},
    )


def ids_in_changes(entity: str, entity_id: Any, fields: tuple[str, ...]) -> set[int]:
    """Every id that the named fields held in the record's history."""
    ids: set[int] = set()
    for event in history(db.session, entity, entity_id):
        for name in fields:
            for side in (event.changes or {}).get(name) or []:
                values = side if isinstance(side, list) else [side]
                ids.update(v for v in values if isinstance(v, int))
    return ids


# -- the log of a site or the trial ---------------------------------------------------


class LogQuery(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    user = ma.fields.String(validate=ma.validate.Length(max=254))
    entity = ma.fields.String(validate=ma.validate.OneOf(tuple(ENTITY_LABELS)))
    site = ma.fields.String(validate=ma.validate.Length(max=8))
    since = ma.fields.Date()
    until = ma.fields.Date()
    page = ma.fields.Integer(validate=ma.validate.Range(min=1), load_default=1)


@bp.route("/log")
@login_required
@requires("audit.read")
def log():
    from trialdm.sites.queries import list_sites

    raw = {k: v.strip() for k, v in request.args.items() if v.strip()}
    errors: dict[str, list[str]] = {}
    try:
        args = LogQuery().load(raw)
    except ma.ValidationError as exc:
        errors, args = field_errors(exc), {"page": 1}
    filters: dict[str, Any] = {k: args[k] for k in ("user", "entity") if args.get(k)}
    if args.get("site"):
        filters["site"] = args["site"].upper()
    if args.get("since"):
        filters["since"] = datetime.combine(args["since"], time.min)
    if args.get("until"):
        filters["until"] = datetime.combine(args["until"] + timedelta(days=1), time.min)
    stmt = audit_query(filters).order_by(AuditEvent.id.desc())
    page = paginate(db.session, stmt, {"page": args.get("page", 1), "per_page": 50}, AuditEvent.id)
    return render_template(
        "audit/log.html",
        page=page,
        rows=[(e, record_name(e), shown_changes(e.changes or {}, {})) for e in page["items"]],
        field_name=field_name,
        entity_name=entity_name,
        args={k: v for k, v in raw.items() if k != "page"},
        errors=errors,
        entities=ENTITY_LABELS,
        sites=[
            s.code for s in list_sites(db.session) if current_principal().has("audit.read", s.code)
        ],
        filter_labels={
            "user": _l("Person (e-mail)"),
            "entity": _l("Record type"),
            "site": _l("Site"),
            "since": _l("From"),
            "until": _l("To"),
        },
    )
