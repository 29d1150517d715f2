"""Display labels of stored codes (arms, statuses, categories...), translatable.

Codes stay English in the data and the API; pages show these labels. A code with
no entry is shown tidied (``social_worker`` -> ``Social worker``).
"""

from __future__ import annotations

import re

from flask import Flask
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

LABELS = {
    "service_user": _l("Service user"),
    "psw": _l("Peer support worker"),
    "mhw": _l("Mental health worker"),
    "intervention": _l("Intervention"),
    "control": _l("Control"),
    "enrolled": _l("Enrolled"),
    "withdrawn": _l("Withdrawn"),
    "completed": _l("Completed"),
    "female": _l("Female"),
    "male": _l("Male"),
    "diverse": _l("Diverse"),
    "not_stated": _l("Not stated"),
    "unmarried": _l("Unmarried"),
    "married": _l("Married"),
    "partnered": _l("Partnered"),
    "divorced": _l("Divorced"),
    "separated": _l("Separated"),
    "widowed": _l("Widowed"),
    "insert": _l("Created"),
    "update": _l("Changed"),
    "delete": _l("Deleted"),
    "on_track": _l("On track"),
    "at_risk": _l("At risk"),
    "met": _l("Met"),
    "not_met": _l("Not met"),
    "not_started": _l("Not started"),
    "individual": _l("Individual"),
    "group": _l("Group"),
    "unread": _l("Unread"),
    "read": _l("Read"),
    "snoozed": _l("Snoozed"),
    "all": _l("All"),
    "research_worker": _l("Research worker"),
    "site_lead": _l("Site lead"),
    "translator": _l("Translator"),
    "reviewer": _l("Reviewer"),
    "coordinator": _l("Coordinator"),
    "admin": _l("Administrator"),
    "monitor": _l("Monitor"),
    "statistician": _l("Statistician"),
    "approve": _l("Approved"),
    "return": _l("Returned"),
    "returned": _l("Returned"),
    "finished": _l("Finished"),
    "topic_guide": _l("Topic guide"),
    "consent_form": _l("Consent form"),
    "information_sheet": _l("Information sheet"),
    "questionnaire": _l("Questionnaire"),
    "other": _l("Other"),
    "video": _l("Video call"),
    "messaging": _l("Messaging"),
    "recorded": _l("Recorded"),
    "transcribed": _l("Transcribed"),
    "pseudonymised": _l("Pseudonymised"),
    "translated": _l("Translated"),
    "checked": _l("Checked"),
    "approved": _l("Approved"),
    "focus_group": _l("Focus group"),
    "interview": _l("Interview"),
    "in_person": _l("In person"),
    "online": _l("Online"),
    "phone": _l("Phone"),
    "complete": _l("Complete"),
    "incomplete": _l("Incomplete"),
    "not_due": _l("Not due yet"),
    "due": _l("Due"),
    "overdue": _l("Overdue"),
    "upcoming": _l("Upcoming"),
    "missed": _l("Missed"),
    "not_applicable": _l("Not applicable"),
    "locked": _l("Locked"),
    "done": _l("Done"),
    "pending": _l("Pending"),
    "in_progress": _l("In progress"),
    "submitted": _l("Submitted"),
    "superseded": _l("Superseded"),
    "forward": _l("Forward translation"),
    "reconciliation": _l("Reconciliation"),
    "back_translation": _l("Back translation"),
    "harmonisation": _l("Harmonisation"),
    "review": _l("Review"),
    "web": _l("Web page"),
    "api": _l("API"),
    "cli": _l("Command line"),
    "task": _l("Scheduled task"),
    "answers": _l("Answers changed"),
    "export": _l("Downloaded"),
    "login": _l("Logged in"),
    "login_failed": _l("Login failed"),
    "login_throttled": _l("Login refused: too many attempts"),
    "logout": _l("Logged out"),
    "download": _l("Downloaded"),
    "read_table": _l("Table read"),
    "token_created": _l("API token created"),
    "token_revoked": _l("API token revoked"),
    "verbatim_deleted": _l("Verbatim text deleted"),
    "view_verbatim": _l("Verbatim text read"),
}


def label(code: object) -> object:
    if code is None or code == "":
        return "—"
    text = str(code)
    return LABELS.get(text) or text.replace("_", " ").capitalize()


def options(codes) -> list[tuple[str, object]]:
    return [(code, label(code)) for code in codes]


def language_name(code: object) -> str:
    """A language code (``lg``, ``he``) as the language's name in the page's language
    (Babel's CLDR data: "Ganda", "Hebräisch", "עברית")."""
    from babel import Locale, UnknownLocaleError
    from flask_babel import get_locale

    text = str(code or "")
    base = text.split("-")[0].split("_")[0]
    try:
        name = (get_locale() or Locale("en")).languages.get(base)
    except UnknownLocaleError:
        name = None
    return name or text


def format_day(value: object) -> object:
    """A date as people of the page's language write it (Babel: 2. Mai 2025, 2 May 2025)."""
    from datetime import date

    from flask_babel import format_date

    if not isinstance(value, date):
        return "—" if value is None else value
    return format_date(value, "medium")


def format_moment(value: object) -> object:
    """A time stamp in the page's language and the user's time zone setting (UTC)."""
    from datetime import datetime

    from flask_babel import format_datetime

    if not isinstance(value, datetime):
        return "—" if value is None else value
    return format_datetime(value, "medium")


def format_number(value: object) -> object:
    """A count or measure with the page's language's digits grouping and decimal sign
    (Babel: 1.234,5 in German, 1,234.5 in English and Hebrew)."""
    from flask_babel import format_decimal

    if isinstance(value, bool) or not isinstance(value, int | float):
        return "—" if value is None else value
    return format_decimal(value)


def format_percent(value: object) -> object:
    """A 0-100 progress figure as a percentage in the page's language (42 %, 42%)."""
    from flask_babel import format_percent as babel_percent

    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return babel_percent(value / 100)


def isolated(value: object) -> Markup:
    """Data inside translated text (a study ID, a name, a number) kept in its own
    direction, so "BU-0001" or an English name reads right inside Hebrew."""
    return Markup("<bdi>%s</bdi>") % ("—" if value is None else value)


_WEB_ADDRESS = re.compile(r"https?://[^\s<>\"'()]+")


def linked(value: object) -> Markup:
    """Plain text (a reminder's body) with its web addresses as links, each isolated
    left to right, so that an address in Hebrew text keeps its parentheses and order."""
    text = "" if value is None else str(value)
    shown, last = Markup(""), 0
    for found in _WEB_ADDRESS.finditer(text):
        shown += escape(text[last : found.start()])
        shown += Markup('<bdi dir="ltr"><a href="{0}">{0}</a></bdi>').format(found[0])
        last = found.end()
    return shown + escape(text[last:])


def spec_text(value: object) -> object:
    """A text of a table spec (title, label, note) in the page's language; data in the
    same places (site codes, study IDs, values) has no catalog entry and stays."""
    from trialdm.core.catalog import spec_text as catalog_spec_text

    return catalog_spec_text(value)


def init_labels(app: Flask) -> None:
    app.jinja_env.filters["spec_text"] = spec_text
    app.jinja_env.filters["bdi"] = isolated
    app.jinja_env.filters["linked"] = linked
    app.jinja_env.filters["format_number"] = format_number
    app.jinja_env.filters["format_percent"] = format_percent
    app.jinja_env.filters["format_date"] = format_day
    app.jinja_env.filters["format_datetime"] = format_moment
    app.jinja_env.filters["label"] = label
    app.jinja_env.filters["language_name"] = language_name
