"""Messages in the reader's language: ours (:class:`~trialdm.core.errors.Message`)
and marshmallow's default wording, which is replaced by plain words of our own.

The API's problem+json and the pages both go through :func:`localised`, so a field
message reads the same in both, in the request's language (the user's choice on the
pages, else Accept-Language). Without a request (CLI, tasks) the text is English.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from flask import has_request_context
from flask_babel import force_locale, format_date, get_locale, gettext
from markupsafe import Markup

from trialdm.core.errors import N_, Message

# marshmallow's default messages (fields and validators, as formatted by marshmallow
# 3/4) -> what a person reads. ``{name}`` in marshmallow's text is captured and
# passed to ours as ``%(name)s``.
_LIBRARY_WORDING: list[tuple[str, str]] = [
    ("Missing data for required field.", N_("Fill in this field.")),
    ("Field may not be null.", N_("Fill in this field.")),
    ("Not a valid integer.", N_("Enter a whole number, such as 12.")),
    ("Not a valid number.", N_("Enter a number, such as 12 or 3.5.")),
    ("Not a valid decimal.", N_("Enter a number, such as 12 or 3.5.")),
    ("Special numeric values (nan or infinity) are not permitted.", N_("Enter a number.")),
    ("Not a valid date.", N_("Enter a real date (year-month-day).")),
    ("Not a valid datetime.", N_("Enter a real date and time.")),
    ("Not a valid time.", N_("Enter a time such as 14:30.")),
    ("Not a valid string.", N_("Enter text.")),
    ("Not a valid boolean.", N_("Choose yes or no.")),
    ("Not a valid list.", N_("Choose from the list.")),
    ("Not a valid mapping type.", N_("This field has an unexpected form.")),
    ("Not a valid email address.", N_("Enter an e-mail address such as name@example.org.")),
    ("Not a valid URL.", N_("Enter a web address starting with https://.")),
    ("Unknown field.", N_("This field is not part of the form.")),
    ("Invalid value.", N_("This value is not accepted.")),
    ("Must be one of: {choices}.", N_("Choose one of the options offered.")),
    ("Shorter than minimum length 1.", N_("Fill in this field.")),
    ("Longer than maximum length {max}.", N_("Use at most %(max)s characters.")),
    ("Shorter than minimum length {min}.", N_("Use at least %(min)s characters.")),
    ("Length must be {equal}.", N_("Use exactly %(equal)s characters.")),
    (
        "Length must be between 1 and {max}.",
        N_("Fill in this field, with at most %(max)s characters."),
    ),
    (
        "Length must be between {min} and {max}.",
        N_("Use between %(min)s and %(max)s characters."),
    ),
    (
        "Must be greater than or equal to {min} and less than or equal to {max}.",
        N_("Enter a number from %(min)s to %(max)s."),
    ),
    (
        "Must be greater than {min} and less than {max}.",
        N_("Enter a number between %(min)s and %(max)s."),
    ),
    ("Must be greater than or equal to {min}.", N_("Enter %(min)s or more.")),
    ("Must be greater than {min}.", N_("Enter more than %(min)s.")),
    ("Must be less than or equal to {max}.", N_("Enter %(max)s or less.")),
    ("Must be less than {max}.", N_("Enter less than %(max)s.")),
    ("String does not match expected pattern.", N_("This value does not have the expected form.")),
]


def _pattern(template: str) -> re.Pattern[str]:
    """marshmallow's template as a regex: each ``{name}`` one word (a limit, a date),
    the list of choices anything."""
    parts = re.split(r"\{(\w+)\}", template)
    regex = ""
    for i, part in enumerate(parts):
        if i % 2 == 0:
            regex += re.escape(part)
        else:
            regex += f"(?P<{part}>{'.+' if part == 'choices' else '[^ ]+'})"
    return re.compile(f"^{regex}$")


_PLAIN = [(_pattern(library), ours) for library, ours in _LIBRARY_WORDING]


def request_language() -> str | None:
    """The request's language (the pages' choice, else Accept-Language) for a job a
    worker builds later; None without a request (CLI, schedule)."""
    if not has_request_context():
        return None
    locale = get_locale()
    return str(locale) if locale else None


@contextmanager
def job_language(language: str | None) -> Iterator[None]:
    """A worker's build in the requester's language: texts marked for translation
    (and the table specs' texts) come out in it; English when none was recorded."""
    with force_locale(language or "en"):
        yield


def plain_words(message: str) -> str:
    """A library message as one of ours (a :class:`Message`), anything else unchanged."""
    if isinstance(message, Message):
        return message
    for pattern, ours in _PLAIN:
        found = pattern.match(message)
        if found:
            return Message(ours, **found.groupdict())
    return message


def _translate(template: str, **params: Any) -> str:
    if not has_request_context():
        return template % params if params else template
    return gettext(template, **params) if params else gettext(template)


def _shown(value: Any, labels: Mapping[str, Any] | None) -> Any:
    """A message's value as the reader writes it: a nested message translated, a day
    in the language's own form ("30 Nov 2026", "30.11.2026")."""
    if isinstance(value, Message):
        return localised(value, labels)
    if isinstance(value, date) and not isinstance(value, datetime) and has_request_context():
        return format_date(value, "medium")
    return value


def localised(message: Any, labels: Mapping[str, Any] | None = None) -> str:
    """One message in the user's language (the ``message`` filter of the templates)."""
    if isinstance(message, Markup) or not isinstance(message, str):
        return message
    message = plain_words(message)
    if not isinstance(message, Message):
        # A fixed text marked with N_ is its own catalog id; any other text (a value,
        # a name) has no entry and comes back as it is.
        return _translate(message) if message else message
    params = {key: _shown(value, labels) for key, value in message.params.items()}
    if message.fields:
        params["fields"] = ", ".join(str((labels or {}).get(n, n)) for n in message.fields)
    return _translate(message.template, **params)


def localised_problem(body: dict[str, Any]) -> dict[str, Any]:
    """A problem+json body with its title, detail and field messages in the request's
    language; field names, values and everything else stay as they are."""
    body = dict(body)
    for key in ("title", "detail"):
        if isinstance(body.get(key), str):
            body[key] = localised(body[key])
    if "errors" in body:
        body["errors"] = _localised_tree(body["errors"])
    return body


def _localised_tree(value: Any) -> Any:
    if isinstance(value, str):
        return localised(value)
    if isinstance(value, Mapping):
        return {key: _localised_tree(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [_localised_tree(inner) for inner in value]
    return value
