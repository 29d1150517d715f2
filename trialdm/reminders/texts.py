"""Reminder texts kept as a message id with its values, put into words when read.

A reminder is read by people of several languages (pages, the API, e-mails,
digests), so the scan stores what to say rather than English sentences::

    {"id": "%(study_id)s: PSW contacts behind (%(count)s of %(minimum)s)",
     "values": {"study_id": "BER-001", "count": 2, "minimum": 5}}

and :func:`render` translates the id (marked with ``N_`` where it is written, so
``make translations`` collects it) in the reader's language and formats the values
for it: a date is stored as ``{"date": "2026-11-30"}``, a nested text (a rule's
name) as ``{"id": ...}``; numbers are formatted per language, other values are put
in as they are (study IDs, titles). A text may carry ``lines``: texts shown one per
line below it (a digest's counts).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from functools import lru_cache, partial
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

Text = dict[str, Any]


def text(msgid: str, /, lines: list[Text] | None = None, **values: Any) -> Text:
    """A text to store: its message id, its values (dates and nested texts kept so
    that they can be formatted for the reader) and optional lines."""
    found: Text = {
        "id": msgid,
        "values": {
            name: {"date": v.isoformat()} if isinstance(v, date) else v
            for name, v in values.items()
        },
    }
    if lines is not None:
        found["lines"] = lines
    return found


def later(msgid: str, /, **values: Any) -> Callable[[], Text]:
    """:func:`text`, built when it is asked for: a scan finds mostly reminders that
    are stored already, whose texts it never needs."""
    return partial(text, msgid, **values)


def english(stored: Mapping[str, Any]) -> str:
    """The text in English (the source language: what old readers and the CLI see)."""
    return render(stored, "en")


@lru_cache(maxsize=32)
def _catalog(language: str) -> NullTranslations:
    from trialdm.web.i18n import TRANSLATIONS_DIR

    if language == "en":
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS_DIR), [language])


@lru_cache(maxsize=32)
def _locale(language: str) -> Locale:
    try:
        return Locale.parse(language)
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def render(stored: Mapping[str, Any] | None, language: str) -> str:
    """The text in ``language``, its values formatted for that language."""
    if not stored:
        return ""
    values = {name: _shown(v, language) for name, v in stored.get("values", {}).items()}
    msgid = str(stored.get("id", ""))
    try:
        said = _translated(msgid, language) % values if values else _translated(msgid, language)
    except (KeyError, ValueError, TypeError):
        # a translation whose placeholders do not fit: the English text, never an error
        said = msgid % values if values else msgid
    lines = [render(line, language) for line in stored.get("lines", ())]
    return "\n".join([said, *lines]) if lines else said


@lru_cache(maxsize=4096)
def _translated(msgid: str, language: str) -> str:
    # each message looked up once per language: a first scan says tens of thousands
    # of reminders with a dozen message ids
    return _catalog(language).gettext(msgid)


@lru_cache(maxsize=8192)
def _date(iso: str, language: str) -> str:
    # cached: Babel reads the locale's month names on every call (~1 ms)
    return format_date(date.fromisoformat(iso), "medium", locale=_locale(language))


@lru_cache(maxsize=8192)
def _number(value: int | float, language: str) -> str:
    return format_decimal(value, locale=_locale(language))


def _shown(value: Any, language: str) -> Any:
    kind = type(value)
    # the common values first (study IDs, events; counts): bool is not int here
    if kind is str:
        return value
    if kind is int:
        return _number(value, language)
    if isinstance(value, dict):
        if "date" in value:
            return _date(value["date"], language)
        if "id" in value:
            return render(value, language)
        return str(value)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return _number(value, language)
    return value


def forget_catalogs() -> None:
    """Drop the loaded catalogs (after ``make translations`` in a running process)."""
    _catalog.cache_clear()
    _translated.cache_clear()


def stored_words(message: Mapping[str, Any] | None, part: str, words: str, language: str) -> str:
    """A reminder's ``part`` (title or body) in ``language``: its stored text when it
    has one, else the words stored (older reminders, rules that give plain words)."""
    stored = (message or {}).get(part)
    return render(stored, language) if stored else words


def reader_language() -> str:
    """The language of whoever is being answered: the language chosen on the pages,
    else the request's Accept-Language, else the user's own setting, else English.
    Outside a request (CLI, tasks): English."""
    from flask import g, has_request_context, request, session

    if not has_request_context():
        return "en"
    from trialdm.web.i18n import DEFAULT_LANGUAGE, LANGUAGES, SESSION_KEY

    chosen = session.get(SESSION_KEY)
    if chosen in LANGUAGES:
        return chosen
    asked = request.accept_languages.best_match(LANGUAGES)
    if asked:
        return asked
    if "reader_language" not in g:
        g.reader_language = _users_language() or DEFAULT_LANGUAGE
    return g.reader_language


def _users_language() -> str | None:
    from trialdm.auth.models import User
    from trialdm.auth.permissions import current_principal
    from trialdm.extensions import db
    from trialdm.web.i18n import LANGUAGES

    principal = current_principal()
    if principal is None:
        return None
    language = db.session.get(User, principal.user_id).locale if principal else None
    return language if language in LANGUAGES else None


def language_of(locale: str | None) -> str:
    """A user's stored language if a catalog exists for it, else English (e-mails)."""
    from trialdm.web.i18n import DEFAULT_LANGUAGE, LANGUAGES

    return locale if locale in LANGUAGES else DEFAULT_LANGUAGE
