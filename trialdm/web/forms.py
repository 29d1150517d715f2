"""HTML forms on top of the API's marshmallow schemas and domain operations.

A page reads the posted form into the same dict the API would receive as JSON,
loads it with the API's load schema and calls the same operation. Both kinds of
failure, a schema ``ValidationError`` and a domain error with ``errors``, become
one map of field name -> messages, shown beside the fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import marshmallow as ma
from flask_babel import gettext
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.datastructures import MultiDict

from trialdm.core.errors import DomainError, Message, PreconditionFailed, PreconditionRequired
from trialdm.core.versions import stale_write

T = TypeVar("T")

# Field errors without a field of their own go to the summary under this key.
FORM_LEVEL = "_form"


def flatten_messages(messages: Any) -> list[str]:
    """Marshmallow nests messages by index or key ({0: ["..."]}); pages show lines."""
    if isinstance(messages, str):
        return [messages]
    if isinstance(messages, Mapping):
        lines: list[str] = []
        for key, inner in messages.items():
            prefix = f"Item {key + 1}: " if isinstance(key, int) else ""
            lines += [prefix + line for line in flatten_messages(inner)]
        return lines
    if isinstance(messages, Iterable):
        return [line for item in messages for line in flatten_messages(item)]
    return [str(messages)]


def field_errors(exc: ma.ValidationError | DomainError) -> dict[str, list[str]]:
    """field -> messages, for a schema error and a domain error alike."""
    if isinstance(exc, ma.ValidationError):
        raw = exc.messages if isinstance(exc.messages, Mapping) else {FORM_LEVEL: exc.messages}
    elif isinstance(exc, (PreconditionFailed, PreconditionRequired)):
        # The version the page showed is no longer the record's: a message for the
        # whole form (the hidden version field has no place to show it).
        raw = {FORM_LEVEL: [exc.detail]}
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
        name: [_localised(message, labels) for message in messages]
        for name, messages in errors.items()
    }


def _localised(message: str, labels: Mapping[str, Any]) -> str:
    if not isinstance(message, Message):
        return message
    if not message.fields:
        return gettext(message.template)
    names = ", ".join(str(labels.get(name, name)) for name in message.fields)
    return gettext(message.template, fields=names)


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


def submit(schema: ma.Schema, data: Mapping[str, Any], action: Callable[[dict], T]) -> T:
    """Load ``data`` with ``schema`` and run ``action`` with the result; errors of either
    step raise :class:`FormErrors` carrying the field messages."""
    try:
        loaded = schema.load(data)
        return action(loaded)
    except (ma.ValidationError, DomainError) as exc:
        raise FormErrors(field_errors(exc), exc) from exc
    except StaleDataError as exc:  # lost a race at flush after passing the version check
        stale = stale_write()
        raise FormErrors(field_errors(stale), stale) from exc


class FormErrors(Exception):
    def __init__(self, errors: dict[str, list[str]], cause: Exception) -> None:
        super().__init__("The form has errors.")
        self.errors = errors
        self.cause = cause
        self.status = getattr(cause, "status", 422)


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
