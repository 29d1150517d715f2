"""The codebook's words in the export job's language (the build runs inside the
job's locale): variable labels, types, value labels, missing-data codes and notes.

Names, codes and numbers are data and stay as they are. A label comes from the
instrument's own translation when it has one in the language, else from the page
catalogs (the shipped datasets' labels are marked for them), else it stays English.
English output is the source text itself, unchanged.
"""

from __future__ import annotations

from typing import Any

from flask import has_app_context
from flask_babel import get_locale, gettext, pgettext

from trialdm.core.errors import N_
from trialdm.exports.datasets import MISSING_VALUES, Variable
from trialdm.instruments.definitions import MISSING_CODES

TYPE_NAMES = {
    "string": N_("text"),
    "code": N_("categorical (code)"),
    "integer": N_("integer"),
    "decimal": N_("decimal"),
    "date": N_("date (YYYY-MM-DD)"),
}
# The Stata letters missing_codes.do gives each missing-data code.
STATA_LETTERS = (("not_asked", "a"), ("dont_know", "b"), ("refused", "c"))


def language() -> str:
    if not has_app_context():
        return "en"
    return str(get_locale() or "en").split("_")[0]


def catalog_text(text: str) -> str:
    """``text`` from the catalog of the current language, or as it is when it has no
    entry there (data that happens to share its place, an instrument's own words)."""
    if not text or not has_app_context():
        return text
    return gettext(text)


def variable_label(variable: Variable) -> str:
    own = dict(variable.translations).get(language())
    suffix = f": {variable.suffix}" if variable.suffix else ""
    if not own and suffix and variable.label.endswith(suffix):
        own = catalog_text(variable.label[: -len(suffix)])
    if own:
        return f"{own}: {catalog_text(variable.suffix)}" if suffix else own
    return catalog_text(variable.label)


def _checkbox_word(english: str) -> str:
    # a ticked box, not a checked translation: its own context in the catalogs
    if english == "Checked":
        return pgettext("checkbox", "Checked")
    return pgettext("checkbox", "Unchecked")


def value_label(variable: Variable, value: Any, english: str) -> str:
    """The label of a choice or number of ``variable``: the instrument's translation,
    else the display label of a stored code (``psw``), else the catalog's."""
    lang = language()
    for code, labels in variable.choice_translations:
        if code == value:
            own = dict(labels).get(lang)
            if own:
                return own
    if variable.choice is not None and english in ("Checked", "Unchecked"):
        return _checkbox_word(english) if has_app_context() else english
    if variable.kind == "code" and not variable.instrument:
        from trialdm.web.labels import LABELS

        if str(value) in LABELS:
            return str(LABELS[str(value)])
    return catalog_text(english)


def missing_text() -> str:
    """How the missing-data codes are written in the data files, for the codebook."""
    return " | ".join(
        gettext(
            "%(number)s = %(label)s (.%(letter)s after missing_codes.do)",
            number=MISSING_VALUES[code],
            label=catalog_text(MISSING_CODES[code]),
            letter=letter,
        )
        for code, letter in STATA_LETTERS
    )
