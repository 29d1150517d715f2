"""The participant form: its fields per category, what a posted form means as the
API's JSON body, the values shown again after an error, and what the form shows
(labels, required marks, the diagnosis list)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict

from trialdm.core.errors import N_, Message
from trialdm.participants import queries
from trialdm.participants.minimum_record import PSW_FIELDS, TRIAL_FIELDS, required_marks
from trialdm.participants.models import Participant
from trialdm.participants.schemas import (
    MAX_DIAGNOSIS_TEXT,
)
from trialdm.participants.vocabulary import (
    ARMS,
    GENDERS,
    MARITAL_STATUSES,
    OTHER_DIAGNOSIS,
    STATUSES,
)
from trialdm.web.forms import (
    FormErrors,
    form_values,
)
from trialdm.web.labels import options

FIELD_LABELS = {
    "site": _l("Site"),
    "category": _l("Category"),
    "gender": _l("Gender"),
    "year_of_birth": _l("Year of birth"),
    "age": _l("Age"),
    "diagnoses": _l("Diagnoses"),
    "diagnosis_other": _l("Other diagnosis"),
    "diagnosis_words": _l("Further diagnoses as written"),
    "marital_status": _l("Marital status"),
    "occupation": _l("Occupation"),
    "profession": _l("Professional background"),
    "years_of_illness": _l("Years of illness"),
    "years_in_care": _l("Years in care"),
    "enrolment_date": _l("Enrolment date"),
    "consent_date": _l("Consent date"),
    "consent_version": _l("Consent form version"),
    "arm": _l("Arm"),
    "status": _l("Status"),
    "withdrawal_date": _l("Withdrawal date"),
    "withdrawal_reason": _l("Reason for withdrawal"),
    "intervention_start": _l("Start of peer support"),
    "training_completed": _l("Training completed"),
    "active": _l("Active"),
    "reason": _l("Reason for the change"),
    "delete_reason": _l("Reason for deleting"),
    "version": _l("Version"),
}

COMMON_FIELDS = ("gender", "year_of_birth", "age", "marital_status", "occupation")
CATEGORY_FIELDS: dict[str, tuple[str, ...]] = {
    "service_user": ("years_of_illness", "years_in_care", *TRIAL_FIELDS),
    "psw": PSW_FIELDS,
    "mhw": ("profession",),
}
DIAGNOSIS_CATEGORIES = ("service_user", "psw")


def form_fields(category: str) -> tuple[str, ...]:
    return COMMON_FIELDS + CATEGORY_FIELDS[category]


def posted_record(form: MultiDict, category: str) -> dict[str, Any]:
    """The form as the API's JSON body: the chosen codes, then the diagnoses typed as
    codes, labels or synonyms (separated by ';'), then an 'other' text."""
    data = form_values(form, form_fields(category), checkboxes=("active",))
    if category in DIAGNOSIS_CATEGORIES:
        diagnoses: list[Any] = [c for c in form.getlist("diagnoses") if c and c != OTHER_DIAGNOSIS]
        diagnoses += [w.strip() for w in form.get("diagnosis_words", "").split(";") if w.strip()]
        other = form.get("diagnosis_other", "").strip()
        if other or OTHER_DIAGNOSIS in form.getlist("diagnoses"):
            diagnoses.append({"code": OTHER_DIAGNOSIS, "text": other or None})
        data["diagnoses"] = diagnoses
    return data


def other_text_errors(failed: FormErrors, data: dict[str, Any]) -> dict[str, Any]:
    """The form's errors with the schema's refusal of the 'other' diagnosis entry
    beside the field it was typed in ("Other diagnosis"), not as an item of the list."""
    raw = failed.cause.messages if isinstance(failed.cause, ma.ValidationError) else {}
    listed = raw.get("diagnoses") if isinstance(raw, dict) else None
    entries = data.get("diagnoses") or []
    other = next((i for i, d in enumerate(entries) if isinstance(d, dict)), None)
    if not isinstance(listed, dict) or other not in listed:
        return failed.errors
    errors = dict(failed.errors)
    if set(listed) == {other}:
        errors.pop("diagnoses", None)
    limit = Message(N_("Use at most %(max)s characters."), max=MAX_DIAGNOSIS_TEXT)
    errors["diagnosis_other"] = [limit]
    return errors


def form_state(form: MultiDict) -> dict[str, Any]:
    """What the user typed, to show again after an error."""
    values: dict[str, Any] = {key: form.get(key) for key in form}
    values["diagnoses"] = form.getlist("diagnoses")
    values["active"] = form.get("active") in ("on", "true")
    return values


def record_state(participant: Participant) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in COMMON_FIELDS + tuple(f for fs in CATEGORY_FIELDS.values() for f in fs):
        value = getattr(participant, name)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        values[name] = value.isoformat() if hasattr(value, "isoformat") else value
    values["diagnoses"] = [d.code for d in participant.diagnoses]
    values["diagnosis_other"] = next(
        (d.text for d in participant.diagnoses if d.code == OTHER_DIAGNOSIS), ""
    )
    values["version"] = participant.version_id
    return values


ENROLMENT_MARK = "†"


def required_fields(category: str) -> tuple[set[str], dict[str, str]]:
    """From the trial's minimum record: the fields a form marks ``required`` (always
    needed), and a marker for the others it needs in some cases: "*" for one of a
    group (year of birth or age), "†" once the enrolment date is given."""
    marks = required_marks(category)
    markers = {name: ENROLMENT_MARK for name in marks.on_enrolment}
    markers.update({name: "*" for name in marks.one_of})
    return set(marks.always), markers


def form_context(
    category: str, site_choices: list[str], recorded: tuple[str, ...] = ()
) -> dict[str, Any]:
    """What the form shows. ``recorded`` codes that the vocabulary no longer holds
    (recorded under an earlier one) stay listed, so that saving keeps them."""
    vocabulary = queries.diagnosis_vocabulary_in_use()
    locale = get_locale()
    language = locale.language if locale else None
    stale = [
        (code, gettext("%(code)s (not in the vocabulary)", code=code))
        for code in recorded
        if code not in vocabulary
    ]
    required, markers = required_fields(category)
    return {
        "category": category,
        "required": required,
        "markers": markers,
        "enrolment_mark": ENROLMENT_MARK,
        "labels": FIELD_LABELS,
        "site_options": [(code, code) for code in site_choices],
        "site_choices": site_choices,
        "fields": set(form_fields(category)),
        "with_diagnoses": category in DIAGNOSIS_CATEGORIES,
        # "F20 · Schizophrenia" under its ICD block; a local vocabulary's label alone
        "diagnosis_groups": [
            (
                group,
                [
                    (
                        code,
                        label
                        if vocabulary.system == "local" or code == OTHER_DIAGNOSIS
                        else f"{code} · {label}",
                    )
                    for code, label in items
                ],
            )
            for group, items in vocabulary.grouped_labels(language)
        ]
        + ([(None, stale)] if stale else []),
        "diagnosis_other_allowed": vocabulary.other.allowed,
        "diagnosis_other_max": MAX_DIAGNOSIS_TEXT,
        "diagnosis_other_needs_text": vocabulary.other.requires_text,
        "genders": options(GENDERS),
        "marital_statuses": options(MARITAL_STATUSES),
        "arms": options(ARMS),
        "statuses": options(STATUSES),
    }
