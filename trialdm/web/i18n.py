"""Page language: English (the source text) and every language with a catalog.

The language comes from the user's choice kept in the session, else the
browser's Accept-Language, else English. Catalogs are gettext ``.po`` files under
``translations/<code>/LC_MESSAGES/``, compiled by ``make install`` (a test checks the
compiled files match). A language is offered when its catalog exists: adding one
needs no code (README, "Adding a language"); its name in the switch is its own name
from Babel's CLDR data.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, g, has_request_context, request, session
from flask_babel import refresh

from trialdm.extensions import babel

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"


def _own_name(code: str) -> str:
    from babel import Locale, UnknownLocaleError

    try:
        name = Locale.parse(code).get_display_name(code) or code
    except (UnknownLocaleError, ValueError):
        return code
    return name[:1].upper() + name[1:]


def available_languages(folder: Path = TRANSLATIONS_DIR) -> dict[str, str]:
    """code -> the language's name in itself (shown in the switch): English first,
    then every language with a catalog."""
    codes = sorted(p.parent.parent.name for p in folder.glob("*/LC_MESSAGES/messages.po"))
    return {"en": _own_name("en"), **{code: _own_name(code) for code in codes if code != "en"}}


LANGUAGES: dict[str, str] = available_languages()
DEFAULT_LANGUAGE = "en"
SESSION_KEY = "lang"


def select_locale() -> str:
    if not has_request_context():
        # A worker or the CLI: English unless a build forces the requester's language.
        return DEFAULT_LANGUAGE
    chosen = session.get(SESSION_KEY)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


def text_direction(language: str | None) -> str:
    """Right to left ("rtl") for a language written so (Babel's CLDR data: Hebrew, Arabic,
    Urdu, Persian, ...), else "ltr"; a new language needs no list of its own here."""
    from babel import Locale, UnknownLocaleError

    code = (language or DEFAULT_LANGUAGE).replace("-", "_")
    try:
        order = Locale.parse(code).character_order
    except (UnknownLocaleError, ValueError):
        return "ltr"
    return "rtl" if order == "right-to-left" else "ltr"


def init_babel(app: Flask) -> None:
    """The catalogs and the language choice, for every process that writes texts (a
    worker writes workbooks and reminders in their reader's language too)."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS_DIR)
    babel.init_app(app, locale_selector=select_locale)


def init_i18n(app: Flask) -> None:
    """The pages' part: a fresh choice per request and the language switch."""

    @app.before_request
    def forget_cached_locale() -> None:
        # Flask-Babel caches the locale on the app context, which can outlive one
        # request (a CLI or test context around several); choose afresh each time.
        refresh()

    @app.context_processor
    def language_context() -> dict:
        language = select_locale() if request else DEFAULT_LANGUAGE
        g.locale = language
        g.text_direction = text_direction(language)
        return {"languages": LANGUAGES, "current_language": language}
