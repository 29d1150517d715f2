"""Controlled vocabularies of participant fields.

The fixed choices (category, gender, marital status, arm, status) are constants
here. Diagnoses use a vocabulary the trial declares as a file (see
:mod:`trialdm.participants.vocabulary.files`); the ``DIAGNOSIS_VOCABULARY`` setting
names it. Readers inside a request or task use
:mod:`trialdm.participants.queries` (``diagnosis_vocabulary_in_use`` and friends).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from trialdm.participants.vocabulary.files import (
    OTHER_CODE,
    Entry,
    Vocabulary,
    VocabularyError,
    VocabularyProblem,
    load_vocabulary,
    normalise_words,
)

CATEGORIES = ("service_user", "psw", "mhw")
GENDERS = ("female", "male", "diverse", "not_stated")
MARITAL_STATUSES = (
    "unmarried",
    "married",
    "partnered",
    "divorced",
    "separated",
    "widowed",
    "not_stated",
)
ARMS = ("intervention", "control")
STATUSES = ("enrolled", "withdrawn", "completed")
# Intervention fidelity, computed from contact sessions (trialdm.contacts.queries), in
# the order of the intervention.
FIDELITY_STATUSES = ("not_started", "on_track", "at_risk", "met", "not_met", "withdrawn")
OTHER_DIAGNOSIS = OTHER_CODE


@dataclass(frozen=True)
class Characteristic:
    """A field of the participant record that an instrument item may be bound to
    (``record_field`` in an instrument file): the record then holds its one value.
    ``kind``: ``code`` (one of ``codes``), ``integer``, ``number`` or ``text``."""

    kind: str
    codes: tuple[str, ...] = ()


# The characteristics an instrument item may be bound to. Diagnoses are not among them:
# the record holds codes of any depth of the vocabulary in use (F41.1), which a fixed
# list of choices cannot show exactly.
RECORD_CHARACTERISTICS: dict[str, Characteristic] = {
    "gender": Characteristic("code", GENDERS),
    "marital_status": Characteristic("code", MARITAL_STATUSES),
    "year_of_birth": Characteristic("integer"),
    "age": Characteristic("integer"),
    "occupation": Characteristic("text"),
    "profession": Characteristic("text"),
    "years_of_illness": Characteristic("number"),
    "years_in_care": Characteristic("number"),
}

__all__ = [
    "ARMS",
    "CATEGORIES",
    "FIDELITY_STATUSES",
    "GENDERS",
    "MARITAL_STATUSES",
    "OTHER_DIAGNOSIS",
    "RECORD_CHARACTERISTICS",
    "STATUSES",
    "Characteristic",
    "Entry",
    "Vocabulary",
    "VocabularyError",
    "VocabularyProblem",
    "diagnosis_from_text",
    "diagnosis_vocabulary",
    "load_vocabulary",
]


def diagnosis_vocabulary(setting: str) -> dict[str, str]:
    """code -> label of the vocabulary named by ``setting`` (a name in the
    ``VOCABULARIES_PATH`` folder or a path to a file), in the file's order, with
    ``other`` last when the vocabulary allows it."""
    return load_vocabulary(current_app.config["VOCABULARIES_PATH"], setting).labels()


def diagnosis_from_text(text: str, vocabulary: dict[str, str]) -> dict[str, str | None]:
    """A diagnosis as a published table words it -> {"code", "text"}, for loading
    reference tables: a known code, label or synonym of the vocabulary in use gives its
    code (keeping the wording when it says more, e.g. "Bipolar disorder combined
    with physical disorders" -> F31 with that text); anything else is ``other`` with
    the wording. Data entry does not guess like this: it refuses unknown values."""
    in_use = load_vocabulary(
        current_app.config["VOCABULARIES_PATH"], current_app.config["DIAGNOSIS_VOCABULARY"]
    )
    wording = " ".join(text.split())
    code = in_use.resolve(wording)
    if code is not None and code in vocabulary:
        return {"code": code, "text": None}
    words = sorted(in_use.wordings(), key=len, reverse=True)
    key = normalise_words(wording)
    for known in words:
        if key.startswith(known + " ") and in_use.resolve(known) in vocabulary:
            return {"code": in_use.resolve(known), "text": wording}
    return {"code": OTHER_CODE, "text": wording}
