"""HTML forms on top of the API's marshmallow schemas and domain operations.

A page reads the posted form into the same dict the API would receive as JSON,
loads it with the API's load schema and calls the same operation. Both kinds of
failure, a schema ``ValidationError`` and a domain error with ``errors``, become
one map of field name -> messages, shown beside the fields and in the summary.

People see every problem of a form at once: when the schema refuses some fields,
the domain's rules still run on the fields it accepted (``submit(check=...)``).
They see them in plain words of their language: marshmallow's library wording
("Field may not be null.") is replaced by our own catalog messages here, once,
for every schema, while the API keeps answering with marshmallow's text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import marshmallow as ma
from flask_babel import gettext
from markupsafe import Markup
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.datastructures import MultiDict

from trialdm.core.errors import (
    N_,
    DomainError,
    FieldErrors,
    Message,
    PreconditionFailed,
    PreconditionRequired,
)
from trialdm.core.versions import stale_write

T = TypeVar("T")

# Field errors without a field of their own go to the summary under this key.
FORM_LEVEL = "_form"

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

STALE_RECORD = N_(
    "This record was changed by someone else while you were editing it; nothing was "
    "saved. Your entries are kept below: check the current record and save again."
)
VERSION_MISSING = N_("The page was sent without its version; reload it and save again.")


def plain_words(message: str) -> str:
    """A library message as one of ours (a :class:`Message`), anything else unchanged."""
    if isinstance(message, Message):
        return message
    for pattern, ours in _PLAIN:
        found = pattern.match(message)
        if found:
            return Message(ours, **found.groupdict())
    return message


def flatten_messages(messages: Any) -> list[str]:
    """Marshmallow nests messages by index or key ({0: ["..."]}); pages show lines."""
    if isinstance(messages, str):
        return [plain_words(messages)]
    if isinstance(messages, Mapping):
        lines: list[str] = []
        for key, inner in messages.items():
            for line in flatten_messages(inner):
                if isinstance(key, int):
                    line = Message(N_("Item %(n)s: %(text)s"), n=key + 1, text=line)
                lines.append(line)
        return lines
    if isinstance(messages, Iterable):
        return [line for item in messages for line in flatten_messages(item)]
    return [str(messages)]


def field_errors(exc: ma.ValidationError | DomainError) -> dict[str, list[str]]:
    """field -> messages, for a schema error and a domain error alike. A stale or
    missing version is one message for the whole form, not an error of a field."""
    if isinstance(exc, PreconditionFailed):
        return {FORM_LEVEL: [Message(STALE_RECORD)]}
    if isinstance(exc, PreconditionRequired):
        return {FORM_LEVEL: [Message(VERSION_MISSING)]}
    if isinstance(exc, ma.ValidationError):
        raw = exc.messages if isinstance(exc.messages, Mapping) else {FORM_LEVEL: exc.messages}
    else:
        raw = dict(exc.errors or {})
        if not raw:
            raw = {FORM_LEVEL: [exc.detail]}
    errors: dict[str, list[str]] = {}
    for name, messages in raw.items():
        key = FORM_LEVEL if name in ("_schema", None) else str(name)
        errors.setdefault(key, []).extend(flatten_messages(messages))
    return errors


def localise(errors: Mapping[str, list[str]], labels: Mapping[str, Any]) -> dict[str, list[str]]:
    """The messages that keep their catalog id (:class:`Message`) in the user's
    language, with the fields they name given by their labels; others as they are."""
    return {
        name: [localised(message, labels) for message in messages]
        for name, messages in errors.items()
    }


def localised(message: Any, labels: Mapping[str, Any] | None = None) -> str:
    """One message in the user's language (the ``message`` filter of the templates)."""
    if isinstance(message, Markup) or not isinstance(message, str):
        return message
    message = plain_words(message)
    if not isinstance(message, Message):
        return message
    params = {
        key: localised(value, labels) if isinstance(value, Message) else value
        for key, value in message.params.items()
    }
    if message.fields:
        params["fields"] = ", ".join(str((labels or {}).get(n, n)) for n in message.fields)
    return gettext(message.template, **params) if params else gettext(message.template)


def form_values(
    form: MultiDict,
    fields: Iterable[str],
    *,
    lists: Iterable[str] = (),
    checkboxes: Iterable[str] = (),
) -> dict[str, Any]:
    """The posted fields as the API's JSON would carry them: text as typed (the schema
    parses numbers and dates), an empty box as null, list fields as lists."""
    values: dict[str, Any] = {}
    lists, checkboxes = set(lists), set(checkboxes)
    for name in fields:
        if name in lists:
            values[name] = [v for v in form.getlist(name) if v.strip()]
        elif name in checkboxes:
            values[name] = form.get(name) in ("on", "true", "1", "yes")
        else:
            raw = form.get(name, "")
            values[name] = raw.strip() or None
    return values


def submit(
    schema: ma.Schema,
    data: Mapping[str, Any],
    action: Callable[[dict], T],
    *,
    check: Callable[[dict], FieldErrors | None] | None = None,
) -> T:
    """Load ``data`` with ``schema`` and run ``action`` with the result; errors of either
    step raise :class:`FormErrors` carrying the field messages.

    ``check`` is the domain's rule check over a dict of field values (it returns or
    raises field errors and changes nothing). When the schema refuses some fields it is
    run on the fields the schema accepted, so that the person sees the domain's
    problems too in the same round rather than after fixing the first ones."""
    try:
        loaded = schema.load(data)
    except ma.ValidationError as exc:
        errors = field_errors(exc)
        if check is not None:
            for name, messages in _checked(check, exc.valid_data or {}).items():
                if name not in errors:
                    errors[name] = messages
        raise FormErrors(errors, exc) from exc
    try:
        return action(loaded)
    except DomainError as exc:
        raise FormErrors(field_errors(exc), exc) from exc
    except StaleDataError as exc:  # lost a race at flush after passing the version check
        stale = stale_write()
        raise FormErrors(field_errors(stale), stale) from exc


def _checked(check: Callable[[dict], FieldErrors | None], partial: dict) -> dict[str, list[str]]:
    try:
        found = check(partial) or {}
    except DomainError as exc:
        return field_errors(exc)
    except (KeyError, TypeError, ValueError):
        # a rule that needs a field the schema refused cannot be judged yet
        return {}
    return field_errors(DomainError(errors=found)) if found else {}


class FormErrors(Exception):
    def __init__(self, errors: dict[str, list[str]], cause: Exception) -> None:
        super().__init__("The form has errors.")
        self.errors = errors
        self.cause = cause
        self.status = getattr(cause, "status", 422)


def init_forms(app) -> None:
    app.jinja_env.filters["message"] = localised


def as_int(value: str | None) -> int | str | None:
    """A posted whole number as int (the API's strict integer fields take JSON numbers);
    anything else is passed on for the schema to reject with its own message."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    return int(text) if text.isdigit() else text


def as_ints(values: Iterable[str]) -> list[int | str]:
    return [v for v in (as_int(raw) for raw in values) if v is not None]
