"""Controlled vocabularies of participant fields. The diagnosis vocabulary is a
trial setting (ICD-10 chapter F by default, or a CSV of code,label)."""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

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
OTHER_DIAGNOSIS = "other"

# ICD-10 chapter V (F00-F99), three-character categories used in mental-health services.
ICD10_F: dict[str, str] = {
    "F00": "Dementia in Alzheimer disease",
    "F01": "Vascular dementia",
    "F03": "Unspecified dementia",
    "F05": "Delirium, not induced by alcohol and other psychoactive substances",
    "F06": "Other mental disorders due to brain damage and dysfunction and to physical disease",
    "F07": "Personality and behavioural disorders due to brain disease, damage and dysfunction",
    "F10": "Mental and behavioural disorders due to use of alcohol",
    "F11": "Mental and behavioural disorders due to use of opioids",
    "F12": "Mental and behavioural disorders due to use of cannabinoids",
    "F13": "Mental and behavioural disorders due to use of sedatives or hypnotics",
    "F14": "Mental and behavioural disorders due to use of cocaine",
    "F15": "Mental and behavioural disorders due to use of other stimulants",
    "F16": "Mental and behavioural disorders due to use of hallucinogens",
    "F17": "Mental and behavioural disorders due to use of tobacco",
    "F19": "Mental and behavioural disorders due to multiple drug use",
    "F20": "Schizophrenia",
    "F21": "Schizotypal disorder",
    "F22": "Persistent delusional disorders",
    "F23": "Acute and transient psychotic disorders",
    "F25": "Schizoaffective disorders",
    "F28": "Other nonorganic psychotic disorders",
    "F29": "Unspecified nonorganic psychosis",
    "F30": "Manic episode",
    "F31": "Bipolar affective disorder",
    "F32": "Depressive episode",
    "F33": "Recurrent depressive disorder",
    "F34": "Persistent mood [affective] disorders",
    "F39": "Unspecified mood [affective] disorder",
    "F40": "Phobic anxiety disorders",
    "F41": "Other anxiety disorders",
    "F42": "Obsessive-compulsive disorder",
    "F43": "Reaction to severe stress, and adjustment disorders",
    "F44": "Dissociative [conversion] disorders",
    "F45": "Somatoform disorders",
    "F48": "Other neurotic disorders",
    "F50": "Eating disorders",
    "F51": "Nonorganic sleep disorders",
    "F53": "Mental and behavioural disorders associated with the puerperium",
    "F60": "Specific personality disorders",
    "F61": "Mixed and other personality disorders",
    "F70": "Mild mental retardation",
    "F79": "Unspecified mental retardation",
    "F84": "Pervasive developmental disorders",
    "F90": "Hyperkinetic disorders",
    "F99": "Mental disorder, not otherwise specified",
}


@lru_cache(maxsize=8)
def diagnosis_vocabulary(setting: str) -> dict[str, str]:
    """code -> label for the configured vocabulary (``other`` is always allowed)."""
    if setting == "icd10_f":
        vocabulary = dict(ICD10_F)
    else:
        with Path(setting).open(encoding="utf-8", newline="") as handle:
            vocabulary = {row[0].strip(): row[1].strip() for row in csv.reader(handle) if row}
    vocabulary[OTHER_DIAGNOSIS] = "Other"
    return vocabulary


# Diagnoses as published tables and referral letters word them -> ICD-10 category.
DIAGNOSIS_SYNONYMS: dict[str, str] = {
    "schizophrenia": "F20",
    "bipolar disorder": "F31",
    "bipolar affective disorder": "F31",
    "depression": "F32",
    "major depression": "F32",
    "recurrent depression": "F33",
    "schizoaffective disorder": "F25",
    "obsessive-compulsive disorder": "F42",
    "ocd": "F42",
    "ptsd": "F43",
    "post-traumatic stress disorder": "F43",
    "anxiety disorder": "F41",
    "borderline personality disorder": "F60",
}


def diagnosis_from_text(text: str, vocabulary: dict[str, str]) -> dict[str, str | None]:
    """A diagnosis as written -> {"code", "text"}: a known label or synonym gives its
    code (keeping the wording when it says more, e.g. "Bipolar disorder combined with
    physical disorders" -> F31 with that text); anything else is ``other`` with text."""
    wording = " ".join(text.split())
    key = wording.lower()
    labels = {label.lower(): code for code, label in vocabulary.items()}
    known = {**labels, **{k: v for k, v in DIAGNOSIS_SYNONYMS.items() if v in vocabulary}}
    if key in known:
        return {"code": known[key], "text": None}
    for name in sorted(known, key=len, reverse=True):
        if key.startswith(name + " "):
            return {"code": known[name], "text": wording}
    return {"code": OTHER_DIAGNOSIS, "text": wording}
