"""HTML forms on top of the API's marshmallow schemas and domain operations.

A page reads the posted form into the same dict the API would receive as JSON,
loads it with the API's load schema and calls the same operation. Both kinds of
failure, a schema ``ValidationError`` and a domain error with ``errors``, become
one map of field name -> messages, shown beside the fields and in the summary.

People see every problem of a form at once: when the schema refuses some fields,
the domain's rules still run on the fields it accepted (``submit(check=...)``).
They see them in plain words of their language: marshmallow's library wording
("Field may not be null.") is replaced by our own catalog messages
(:mod:`trialdm.core.messages`, which the API's problem+json uses too).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Any, TypeVar

import marshmallow as ma
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
from trialdm.core.limits import schema_limits
from trialdm.core.messages import localised, plain_words
from trialdm.core.versions import stale_write

T = TypeVar("T")

# Field errors without a field of their own go to the summary under this key.
FORM_LEVEL = "_form"

STALE_RECORD = N_(
    "This record was changed by someone else while you were editing it; nothing was "
    "saved. Your entries are kept below: check the current record and save again."
)
VERSION_MISSING = N_("The page was sent without its version; reload it and save again.")


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


@cache
def text_limits(*schemas: str) -> Mapping[str, int]:
    """For a page's template: field name -> the most characters the named load schemas
    ("contacts.ContactSessionCreate") accept, shown as ``maxlength``; a later schema's
    limit wins."""
    limits: dict[str, int] = {}
    for dotted in schemas:
        domain, name = dotted.rsplit(".", 1)
        schema = getattr(importlib.import_module(f"trialdm.{domain}.schemas"), name)
        limits.update(schema_limits(schema))
    return limits


def init_forms(app) -> None:
    app.jinja_env.filters["message"] = localised
    app.jinja_env.globals["text_limits"] = text_limits


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
