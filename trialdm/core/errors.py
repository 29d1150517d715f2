"""Domain errors and their RFC 9457 problem+json rendering.

Operations raise these; the API turns every error, ours or the framework's, into
``application/problem+json`` with field-level messages under ``errors``.
"""

from __future__ import annotations

from typing import Any

PROBLEM_MIMETYPE = "application/problem+json"

FieldErrors = dict[str, Any]


def N_(text: str) -> str:
    """Mark a message for the catalogs without translating it here (``make
    translations`` collects it): the API's problem+json and the pages translate it
    into the request's language when they show it (:mod:`trialdm.core.messages`)."""
    return text


class Message(str):
    """A message with values that the API and the pages show in the reader's language.

    It is the English text (what the CLI prints and logs keep) and keeps its catalog
    id, the field names it mentions (which a page replaces by the fields' labels in
    its language) and its other values (study IDs, dates, limits), which are put into
    the translated text as they are. A message without values needs no Message: the
    text marked with :func:`N_` is its own catalog id.
    """

    template: str
    fields: tuple[str, ...]
    params: dict[str, Any]

    def __new__(cls, template: str, fields: tuple[str, ...] = (), **params: Any) -> Message:
        values = {**params, "fields": ", ".join(fields)} if fields else params
        text = template % values if values else template
        message = super().__new__(cls, text)
        message.template = template
        message.fields = fields
        message.params = params
        return message


class DomainError(Exception):
    status = 400
    title = N_("Bad request")

    def __init__(self, detail: str | None = None, *, errors: FieldErrors | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors or {}

    def to_problem(self) -> dict[str, Any]:
        return problem(self.status, self.title, self.detail, self.errors)


class ValidationFailed(DomainError):
    status = 422
    title = N_("Unprocessable content")

    @classmethod
    def field(cls, name: str, message: str) -> ValidationFailed:
        return cls(message, errors={name: [message]})


class NotFound(DomainError):
    status = 404
    title = N_("Not found")


class Forbidden(DomainError):
    status = 403
    title = N_("Forbidden")


class Unauthorized(DomainError):
    status = 401
    title = N_("Unauthorized")


class Conflict(DomainError):
    status = 409
    title = N_("Conflict")


class Locked(DomainError):
    """The record is signed and locked (WebDAV's 423): nothing changes it until it is
    unlocked with a reason."""

    status = 423
    title = N_("Locked")


class PreconditionFailed(DomainError):
    status = 412
    title = N_("Precondition failed")


class PreconditionRequired(DomainError):
    status = 428
    title = N_("Precondition required")


def problem(
    status: int, title: str, detail: str | None = None, errors: FieldErrors | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    return body


def merge_errors(into: FieldErrors, extra: FieldErrors) -> FieldErrors:
    for key, messages in extra.items():
        into.setdefault(key, [])
        into[key].extend(messages if isinstance(messages, list) else [messages])
    return into


class ErrorCollector:
    """Gathers every field problem of an input before raising once."""

    def __init__(self) -> None:
        self.errors: FieldErrors = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self, detail: str = N_("The input has errors.")) -> None:
        if self.errors:
            raise ValidationFailed(detail, errors=self.errors)
