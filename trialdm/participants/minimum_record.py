"""The minimum record: what each participant category must carry, declared as trial data.

``quality/minimum_record.toml`` (the folder is the ``QUALITY_DIR`` setting) lists per
category the fields required when the record is created and, for service users, those
required once it is enrolled (has an enrolment date). An entry is a field name or a
list of fields of which any one will do. The file is read and validated when the app
is created; every path that creates or changes a participant (API, pages, imports)
checks records against it here, and the pages mark the fields it names.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import marshmallow as ma
from flask import Flask, current_app

from trialdm.core.errors import N_, Message
from trialdm.participants.vocabulary import CATEGORIES

FILE_NAME = "minimum_record.toml"
EXTENSION_KEY = "minimum_record"
STAGES = ("on_creation", "on_enrolment")

# Fields of a participant by category (the others are refused by the domain rules).
COMMON_FIELDS = (
    "gender",
    "year_of_birth",
    "age",
    "diagnoses",
    "marital_status",
    "occupation",
    "profession",
    "years_of_illness",
    "years_in_care",
)
TRIAL_FIELDS = (
    "enrolment_date",
    "consent_date",
    "consent_version",
    "arm",
    "status",
    "withdrawal_date",
    "withdrawal_reason",
    "intervention_start",
)
PSW_FIELDS = ("training_completed", "active")
# Set during the trial, never at creation or enrolment: requiring them would make
# every new or newly enrolled record impossible to save.
LATER_FIELDS = ("status", "withdrawal_date", "withdrawal_reason", "intervention_start")
# A record holds one of these, never both (year_of_birth or age).
EXCLUSIVE_FIELDS = frozenset({"year_of_birth", "age"})

REQUIRED_ON_CREATION = N_("Required when the record is created.")
REQUIRED_ON_ENROLMENT = N_("Required for an enrolled participant.")
ONE_OF_ON_CREATION = N_("Required when the record is created: give one of %(fields)s.")
ONE_OF_ON_ENROLMENT = N_("Required for an enrolled participant: give one of %(fields)s.")


def category_fields(category: str) -> tuple[str, ...]:
    """The fields a participant of ``category`` can have."""
    fields = COMMON_FIELDS
    if category == "service_user":
        fields += TRIAL_FIELDS
    if category == "psw":
        fields += PSW_FIELDS
    return fields


@dataclass(frozen=True)
class Requirement:
    """One entry: satisfied when any of ``fields`` has a value."""

    fields: tuple[str, ...]

    def message(self, stage: str) -> Message:
        if len(self.fields) == 1:
            text = REQUIRED_ON_CREATION if stage == "on_creation" else REQUIRED_ON_ENROLMENT
            return Message(text)
        text = ONE_OF_ON_CREATION if stage == "on_creation" else ONE_OF_ON_ENROLMENT
        return Message(text, self.fields)


@dataclass(frozen=True)
class CategoryRecord:
    on_creation: tuple[Requirement, ...] = ()
    on_enrolment: tuple[Requirement, ...] = ()

    def stage(self, name: str) -> tuple[Requirement, ...]:
        return self.on_creation if name == "on_creation" else self.on_enrolment


MinimumRecord = dict[str, CategoryRecord]


class MinimumRecordFileError(Exception):
    def __init__(self, path: Path, key: str, message: str) -> None:
        super().__init__(f"{path}: {key}: {message}")
        self.path = path
        self.key = key


def parse_minimum_record(path: Path) -> MinimumRecord:
    """Read and validate the file; :class:`MinimumRecordFileError` names file, key and
    problem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MinimumRecordFileError(path, "(file)", "not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MinimumRecordFileError(path, "(file)", f"not valid TOML: {exc}") from None
    record: MinimumRecord = {}
    for category, table in data.items():
        if category not in CATEGORIES:
            raise MinimumRecordFileError(
                path, category, f"unknown category (known: {', '.join(CATEGORIES)})"
            )
        if not isinstance(table, dict):
            raise MinimumRecordFileError(path, category, "must be a table ([category])")
        for key in table:
            if key not in STAGES:
                raise MinimumRecordFileError(
                    path, f"{category}.{key}", f"unknown key (known: {', '.join(STAGES)})"
                )
        if "on_enrolment" in table and category != "service_user":
            raise MinimumRecordFileError(
                path, f"{category}.on_enrolment", "only service users are enrolled in the trial"
            )
        seen: set[str] = set()  # a field is named once, in the earliest stage needing it
        stages = {
            stage: _parse_stage(path, category, stage, table.get(stage, []), seen)
            for stage in STAGES
        }
        _check_exclusive(path, category, [*stages["on_creation"], *stages["on_enrolment"]])
        record[category] = CategoryRecord(**stages)
    return record


def _parse_stage(
    path: Path, category: str, stage: str, entries: Any, seen: set[str]
) -> tuple[Requirement, ...]:
    key = f"{category}.{stage}"
    if not isinstance(entries, list):
        raise MinimumRecordFileError(path, key, "must be a list of field names")
    known = category_fields(category)
    not_here = {"enrolment_date", *LATER_FIELDS}
    if stage == "on_creation":
        not_here.add("arm")
    requirements = []
    for index, entry in enumerate(entries, start=1):
        names = entry if isinstance(entry, list) else [entry]
        where = f"{key}[{index}]"
        if not names or not all(isinstance(name, str) for name in names):
            raise MinimumRecordFileError(
                path, where, "a field name or a non-empty list of field names"
            )
        for name in names:
            if name not in (*COMMON_FIELDS, *TRIAL_FIELDS, *PSW_FIELDS):
                raise MinimumRecordFileError(path, where, f"unknown field '{name}'")
            if name not in known:
                raise MinimumRecordFileError(
                    path, where, f"'{name}' is not a field of {category} participants"
                )
            if name in not_here:
                raise MinimumRecordFileError(
                    path, where, f"'{name}' is not given {stage.replace('on_', 'at ')}"
                )
            if name in seen:
                raise MinimumRecordFileError(path, where, f"'{name}' is listed twice")
            seen.add(name)
        requirements.append(Requirement(tuple(names)))
    return tuple(requirements)


def _check_exclusive(path: Path, category: str, requirements: list[Requirement]) -> None:
    alone = {r.fields[0] for r in requirements if len(r.fields) == 1}
    if alone >= EXCLUSIVE_FIELDS:
        raise MinimumRecordFileError(
            path,
            category,
            "year_of_birth and age cannot both be required (a record holds one of them); "
            'list them as one entry: ["year_of_birth", "age"]',
        )


def init_app(app: Flask) -> None:
    """Read the trial's minimum record when the app is created: a bad file stops it."""
    path = Path(app.config["QUALITY_DIR"]) / FILE_NAME
    app.extensions[EXTENSION_KEY] = parse_minimum_record(path)


def minimum_record() -> MinimumRecord:
    return current_app.extensions[EXTENSION_KEY]


def _requirements(category: str | None, stage: str) -> tuple[Requirement, ...]:
    found = _declared(category, stage)
    if stage == "on_enrolment" and current_app.config["RANDOMISATION"] == "service":
        # The service allocates the arm after enrolment: nobody can type it before.
        found = tuple(r for r in found if r.fields != ("arm",))
    return found


def _declared(category: str | None, stage: str) -> tuple[Requirement, ...]:
    record = minimum_record()
    if category in record:
        return record[category].stage(stage)
    if category in CATEGORIES:
        return ()
    # Category unknown (not given): what every category requires.
    per_category = [record.get(c, CategoryRecord()).stage(stage) for c in CATEGORIES]
    return tuple(r for r in per_category[0] if all(r in other for other in per_category[1:]))


def required_of_every_category() -> tuple[tuple[str, ...], ...]:
    """The creation requirements every category shares (each as its fields): a file
    of participants without any column for one of them cannot hold a valid row."""
    return tuple(r.fields for r in _requirements(None, "on_creation"))


def has_value(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, (list, tuple, dict)):
        return bool(value)
    return value is not None


def missing_fields(category: str | None, values: Mapping[str, Any]) -> dict[str, list[Message]]:
    """field -> message for every requirement ``values`` does not meet: the creation
    ones, and the enrolment ones when it has an enrolment date. A requirement of
    several fields is reported on each of them (each is marked on the page)."""
    stages = ["on_creation"]
    if category in (None, "service_user") and has_value(values.get("enrolment_date")):
        stages.append("on_enrolment")
    missing: dict[str, list[Message]] = {}
    for stage in stages:
        for requirement in _requirements(category, stage):
            if not any(has_value(values.get(name)) for name in requirement.fields):
                for name in requirement.fields:
                    missing.setdefault(name, []).append(requirement.message(stage))
    return missing


@dataclass(frozen=True)
class RequiredMarks:
    """What a form marks: ``always`` fields carry HTML ``required``; ``one_of`` fields are
    marked but not ``required`` (any one of their group will do); ``on_enrolment`` once
    the enrolment date is given."""

    always: frozenset[str]
    one_of: frozenset[str]
    on_enrolment: frozenset[str]


def required_marks(category: str) -> RequiredMarks:
    def split(requirements: Iterable[Requirement]) -> tuple[set[str], set[str]]:
        single = {r.fields[0] for r in requirements if len(r.fields) == 1}
        grouped = {name for r in requirements if len(r.fields) > 1 for name in r.fields}
        return single, grouped

    always, one_of = split(_requirements(category, "on_creation"))
    single, grouped = split(_requirements(category, "on_enrolment"))
    return RequiredMarks(frozenset(always), frozenset(one_of), frozenset(single | grouped))


class MinimumRecordCheck:
    """A load schema of a new participant that fails on its own fields (a bad value, a
    missing site) reports the minimum record's gaps with them, so that one answer
    names everything missing. When its fields are fine the operation reports the gaps
    together with the record's other rules (the one place that enforces them)."""

    fields: dict

    def category_of(self, data: dict) -> str | None:
        """The category being created (a schema for one category returns it)."""
        return data.get("category")

    @ma.validates_schema(pass_original=True, skip_on_field_errors=False)
    def check_minimum_record(self, data: dict, original_data: Any, **kwargs: Any) -> None:
        if not isinstance(original_data, dict):
            return
        # A key sent but not loaded failed its check (or is unknown); a required field
        # not loaded is missing: either way this load fails.
        fails = any(key not in data for key in original_data) or any(
            field.required and name not in data for name, field in self.fields.items()
        )
        if not fails:
            return
        # Judged on the input as sent: a value that failed its own check is not "missing".
        missing = missing_fields(self.category_of(data), original_data)
        if missing:
            raise ma.ValidationError(missing)
