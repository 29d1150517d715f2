"""Page language: English (the source text), German and Hebrew (right-to-left).

The language comes from the user's choice kept in the session, else the
browser's Accept-Language, else English. Catalogs are gettext ``.po`` files under
``translations/``; their compiled ``.mo`` files are committed beside them (a
test checks they match), so a fresh clone needs no build step.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, g, request, session
from flask_babel import refresh

from trialdm.extensions import babel

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
# code -> name of the language in itself (shown in the switch)
LANGUAGES: dict[str, str] = {"en": "English", "de": "Deutsch", "he": "עברית"}
RTL_LANGUAGES = frozenset({"he", "ar", "fa", "ur"})
DEFAULT_LANGUAGE = "en"
SESSION_KEY = "lang"


def select_locale() -> str:
    chosen = session.get(SESSION_KEY)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


def text_direction(language: str) -> str:
    return "rtl" if language in RTL_LANGUAGES else "ltr"


def init_i18n(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS_DIR)
    babel.init_app(app, locale_selector=select_locale)

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
