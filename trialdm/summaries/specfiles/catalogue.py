"""The fields a table file may name without declaring them, per population.

Stored fields of participants, qualitative sessions and members, and sites; the
value kind tells the parser which statistics make sense, the vocabulary gives
fixed categories (printed even when nobody has them) and their labels.
"""

from __future__ import annotations

from trialdm.participants.vocabulary import ARMS, CATEGORIES, GENDERS, MARITAL_STATUSES, STATUSES
from trialdm.summaries.specfiles.model import Variable


def _labelled(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((v, v.replace("_", " ").capitalize()) for v in values)


# field -> (kind, fixed categories)
PARTICIPANT_FIELDS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "study_id": ("text", ()),
    "category": ("text", _labelled(CATEGORIES)),
    "gender": ("text", _labelled(GENDERS)),
    "year_of_birth": ("number", ()),
    "age": ("number", ()),
    "marital_status": ("text", _labelled(MARITAL_STATUSES)),
    "occupation": ("text", ()),
    "years_of_illness": ("number", ()),
    "years_in_care": ("number", ()),
    "enrolment_date": ("date", ()),
    "consent_date": ("date", ()),
    "arm": ("text", _labelled(ARMS)),
    "status": ("text", _labelled(STATUSES)),
    "withdrawal_date": ("date", ()),
    "intervention_start": ("date", ()),
    "profession": ("text", ()),
}
MEMBER_FIELDS = {
    "gender": ("text", _labelled(GENDERS)),
    "age": ("number", ()),
    "profession": ("text", ()),
    "member_code": ("text", ()),
}
SESSION_FIELDS = {
    "id": ("number", ()),
    "kind": ("text", (("focus_group", "Focus groups"), ("interview", "Interviews"))),
    "date": ("date", ()),
    "duration_min": ("number", ()),
    "location": ("text", ()),
    "mode": ("text", ()),
    "language": ("text", ()),
}
SITE_FIELDS = {"code": ("text", ()), "name": ("text", ()), "country": ("text", ())}
SOURCES_OF_FIELDS = {
    "participant": PARTICIPANT_FIELDS,
    "member": MEMBER_FIELDS,
    "session": SESSION_FIELDS,
    "site": SITE_FIELDS,
}


def stored(name: str, source: str, field: str) -> Variable:
    kind, categories = SOURCES_OF_FIELDS[source][field]
    return Variable(
        name, source, field=field, kind=kind, categories=categories, labels=dict(categories)
    )


def _site() -> dict[str, Variable]:
    return {
        "site": stored("site", "site", "code"),
        "site_name": stored("site_name", "site", "name"),
        "site_country": stored("site_country", "site", "country"),
    }


def predeclared(population: str) -> dict[str, Variable]:
    """Variables every table of this population has."""
    found = _site()
    diagnoses = Variable(
        "diagnoses", "participant", field="diagnoses", multi=True, vocabulary="diagnoses"
    )
    if population == "participants":
        found.update({name: stored(name, "participant", name) for name in PARTICIPANT_FIELDS})
        found["diagnoses"] = diagnoses
    elif population == "qualitative_members":
        found["session"] = stored("session", "session", "id")
        for name in ("kind", "date", "location", "mode", "language"):
            found[name] = stored(name, "session", name)
        found["duration"] = stored("duration", "session", "duration_min")
        for name in ("gender", "age", "profession"):
            found[name] = stored(name, "member", name)
        found["category"] = stored("category", "participant", "category")
        found["diagnoses"] = diagnoses
    return found
