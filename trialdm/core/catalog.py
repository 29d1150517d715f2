"""Texts from the page catalogs that sit where data may sit too: the table specs'
titles, labels and notes, and printed labels made of a template and data
(``T1 (4 months)``). A text with a catalog entry comes back in the current language;
anything else (a site code, a study ID, a trial's own wording) comes back as it is."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from trialdm.core.errors import N_

# Printed labels made from a template and data (the event's name): translated by
# their template, whose placeholders are matched back out of the English text.
EVENT_LABEL = N_("%(event)s (%(months)s months)")
BASELINE_LABEL = N_("%(event)s (baseline)")
TEMPLATES = (EVENT_LABEL, BASELINE_LABEL)
_PLACEHOLDER = re.compile(r"%\\\((\w+)\\\)s")
_TEMPLATE_PATTERNS = [
    (re.compile("^" + _PLACEHOLDER.sub(r"(?P<\1>.+?)", re.escape(t)) + "$"), t) for t in TEMPLATES
]


def catalog_id(text: str) -> str:
    """A spec text's catalog id: a percent sign doubled ("n (%%)"), so that
    "(% of contacts)" is not read as a placeholder."""
    return text.replace("%", "%%")


def spec_text(text: Any) -> Any:
    """A spec text in the current language (English without a request or catalog
    entry); data in the same places (site codes, values) comes back as it is."""
    from flask import has_app_context
    from flask_babel import get_domain

    # An app context suffices: a worker's build runs inside force_locale (job_language).
    if not isinstance(text, str) or not has_app_context():
        return text
    return _translated(text, get_domain().get_translations().ugettext)


def spec_texts() -> Callable[[Any], Any]:
    """:func:`spec_text` for many texts in the current language: the language's
    catalog looked up once (flask-babel finds it again for each text) and each text
    translated once."""
    from flask import has_app_context
    from flask_babel import get_domain

    if not has_app_context():
        return spec_text
    translations = get_domain().get_translations()
    known: dict[str, Any] = {}

    def text_of(text: Any) -> Any:
        if not isinstance(text, str):
            return text
        found = known.get(text)
        if found is not None:
            return found
        found = known[text] = _translated(text, translations.ugettext)
        return found

    return text_of


def _translated(text: str, gettext: Callable[[str], str]) -> str:
    """:func:`spec_text` of a text through a catalog's ``gettext``."""
    if not text.strip():
        return text
    key = catalog_id(text)
    translated = gettext(key)
    if translated != key:
        return translated.replace("%%", "%")
    for pattern, template in _TEMPLATE_PATTERNS:
        found = pattern.match(text)
        if found:
            return gettext(template) % found.groupdict()
    return text
