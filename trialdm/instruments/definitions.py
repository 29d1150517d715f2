"""Instrument definitions: parsing and validating the files of ``instruments/``.

An instrument is data, not code: one TOML file per instrument (see
``instruments/README.md`` for the format and why TOML). This module turns a file
into an :class:`InstrumentDefinition`, reporting every problem with its file,
field and reason, and holds the rules that depend only on a definition: which
fields are shown given the answers (``show_if``) and the computed scores.

A stored version keeps its definition as the normalised dict of
:meth:`InstrumentDefinition.to_dict`; :meth:`InstrumentDefinition.from_dict`
reads it back, so an old version is always readable exactly as it was.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

FIELD_TYPES = (
    "text",
    "integer",
    "decimal",
    "date",
    "single_choice",
    "multiple_choice",
    "yes_no",
    "scale",
)
CHOICE_TYPES = ("single_choice", "multiple_choice")
NUMERIC_TYPES = ("integer", "decimal", "scale")
# Missing-data codes: an answer that was not given for a known reason, distinct from blank.
MISSING_CODES: dict[str, str] = {
    "not_asked": "Not asked",
    "refused": "Refused",
    "dont_know": "Don't know",
}
RESPONDENT_CATEGORIES = ("service_user", "psw", "mhw")
SCORE_METHODS = ("sum",)
WIDGETS = ("radio", "dropdown")
DEFAULT_LANGUAGE = "en"

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_CODE = re.compile(r"^[a-z0-9][a-z0-9_]{0,62}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_TOP_KEYS = {
    "name",
    "version",
    "title",
    "description",
    "respondents",
    "events",
    "fields",
    "scores",
}
_FIELD_KEYS = {
    "name",
    "type",
    "label",
    "help",
    "section",
    "required",
    "min",
    "max",
    "units",
    "choices",
    "show_if",
    "reverse",
    "max_length",
    "multiline",
    "widget",
    "identifier",
}
_SCORE_KEYS = {"name", "label", "method", "items", "min_answered"}
_CONDITION_OPS = ("equals", "not_equals", "any_of", "contains")

Labels = dict[str, str]


@dataclass(frozen=True)
class DefinitionProblem:
    file: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.reason}"


class DefinitionError(Exception):
    """One or more definitions are invalid; nothing was stored."""

    def __init__(self, problems: list[DefinitionProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Choice:
    value: Any  # str for choice fields, int for scale anchors
    label: Labels


@dataclass(frozen=True)
class Condition:
    """Show a field only if another field's answer matches. One operator:
    ``equals``/``not_equals`` a value, ``any_of`` a list, or (multiple choice)
    ``contains`` a choice."""

    field: str
    op: str
    value: Any

    def holds(self, answers: Mapping[str, Any]) -> bool:
        answer = answers.get(self.field)
        if answer is None or isinstance(answer, Missing):
            return False
        if isinstance(answer, date):
            answer = answer.isoformat()  # date conditions are stored as ISO text
        if self.op == "equals":
            return answer == self.value
        if self.op == "not_equals":
            return answer != self.value
        if self.op == "any_of":
            return answer in self.value
        return isinstance(answer, list) and self.value in answer  # contains

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, self.op: self.value}

    def describe(self) -> str:
        return f"{self.field} {self.op.replace('_', ' ')} {self.value!r}"


@dataclass(frozen=True)
class FieldDefinition:
    name: str
    type: str
    label: Labels
    help: Labels = field(default_factory=dict)
    section: Labels = field(default_factory=dict)
    required: bool = False
    min: Any = None
    max: Any = None
    units: str | None = None
    choices: tuple[Choice, ...] = ()
    show_if: Condition | None = None
    reverse: bool = False
    max_length: int | None = None
    multiline: bool = False
    widget: str | None = None
    # Identifies a person (REDCap's "Identifier?"): left out of de-identified exports.
    identifier: bool = False

    @property
    def choice_values(self) -> list[Any]:
        return [c.value for c in self.choices]

    def scale_points(self) -> list[int]:
        return list(range(int(self.min), int(self.max) + 1))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "label": dict(self.label)}
        if self.help:
            out["help"] = dict(self.help)
        if self.section:
            out["section"] = dict(self.section)
        if self.required:
            out["required"] = True
        for key in ("min", "max"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value.isoformat() if isinstance(value, date) else value
        if self.units:
            out["units"] = self.units
        if self.choices:
            out["choices"] = [{"value": c.value, "label": dict(c.label)} for c in self.choices]
        if self.show_if:
            out["show_if"] = self.show_if.to_dict()
        if self.reverse:
            out["reverse"] = True
        if self.max_length is not None:
            out["max_length"] = self.max_length
        if self.multiline:
            out["multiline"] = True
        if self.widget:
            out["widget"] = self.widget
        if self.identifier:
            out["identifier"] = True
        return out


@dataclass(frozen=True)
class ScoreDefinition:
    """A computed score: the sum of item scores (reverse-scored items flipped).
    With ``min_answered`` below the number of items, a total with some items
    unanswered is prorated (mean of answered items x number of items)."""

    name: str
    label: Labels
    items: tuple[str, ...]
    method: str = "sum"
    min_answered: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "label": dict(self.label),
            "method": self.method,
            "items": list(self.items),
        }
        if self.min_answered is not None:
            out["min_answered"] = self.min_answered
        return out


@dataclass(frozen=True)
class InstrumentDefinition:
    name: str
    version: int
    title: Labels
    fields: tuple[FieldDefinition, ...]
    description: Labels = field(default_factory=dict)
    respondents: tuple[str, ...] = ("service_user",)
    events: tuple[str, ...] = ()
    scores: tuple[ScoreDefinition, ...] = ()

    def field(self, name: str) -> FieldDefinition | None:
        return self.fields_by_name.get(name)

    @property
    def fields_by_name(self) -> dict[str, FieldDefinition]:
        return {f.name: f for f in self.fields}

    @property
    def languages(self) -> list[str]:
        found = set(self.title)
        for f in self.fields:
            found |= set(f.label)
        return sorted(found)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "title": dict(self.title),
        }
        if self.description:
            out["description"] = dict(self.description)
        out["respondents"] = list(self.respondents)
        out["events"] = list(self.events)
        out["fields"] = [f.to_dict() for f in self.fields]
        if self.scores:
            out["scores"] = [s.to_dict() for s in self.scores]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "(stored)") -> InstrumentDefinition:
        return parse_definition(data, source)


@dataclass(frozen=True)
class Missing:
    """An answer replaced by a missing-data code (``refused``, ...): not blank."""

    code: str

    def to_json(self) -> dict[str, str]:
        return {"missing": self.code}


# ---------------------------------------------------------------- rules on answers


def visible_fields(definition: InstrumentDefinition, answers: Mapping[str, Any]) -> set[str]:
    """Names of the fields shown given ``answers`` (a field whose controlling field
    is hidden is hidden too)."""
    shown: set[str] = set()
    for f in definition.fields:  # conditions refer to earlier fields only
        condition = f.show_if
        if condition is None or (condition.field in shown and condition.holds(answers)):
            shown.add(f.name)
    return shown


def item_score(f: FieldDefinition, value: Any) -> float | None:
    if value is None or isinstance(value, (Missing, bool)):
        return None
    if f.reverse and f.min is not None and f.max is not None:
        return f.min + f.max - value
    return value


def compute_scores(
    definition: InstrumentDefinition, answers: Mapping[str, Any]
) -> dict[str, float | None]:
    """Each score's value, or None when too few items are answered."""
    out: dict[str, float | None] = {}
    for score in definition.scores:
        values = [
            item_score(definition.fields_by_name[name], answers.get(name)) for name in score.items
        ]
        answered = [v for v in values if v is not None]
        needed = score.min_answered if score.min_answered is not None else len(score.items)
        if not answered or len(answered) < needed:
            out[score.name] = None
        elif len(answered) == len(values):
            out[score.name] = float(sum(answered))
        else:
            out[score.name] = round(sum(answered) / len(answered) * len(values), 2)
    return out


# ---------------------------------------------------------------- parsing


def load_definition_file(path: Path) -> InstrumentDefinition:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        problem = DefinitionProblem(path.name, "(file)", f"not valid TOML: {exc}")
        raise DefinitionError([problem]) from None
    definition = parse_definition(data, path.name)
    if definition.name != path.stem:
        raise DefinitionError(
            [DefinitionProblem(path.name, "name", f"must match the file name ({path.stem})")]
        )
    return definition


def load_definition_folder(folder: Path) -> list[InstrumentDefinition]:
    """Every ``*.toml`` of ``folder``; all problems of all files in one error."""
    problems: list[DefinitionProblem] = []
    definitions: list[InstrumentDefinition] = []
    paths = sorted(folder.glob("*.toml"))
    if not paths:
        raise DefinitionError([DefinitionProblem(str(folder), "(folder)", "no *.toml files")])
    for path in paths:
        try:
            definitions.append(load_definition_file(path))
        except DefinitionError as exc:
            problems += exc.problems
    if problems:
        raise DefinitionError(problems)
    return definitions


class _Checker:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[DefinitionProblem] = []

    def add(self, where: str, reason: str) -> None:
        self.problems.append(DefinitionProblem(self.source, where, reason))

    def labels(self, where: str, value: Any, required: bool = True) -> Labels:
        """A string (English) or a table of language -> text; English is required."""
        if value is None:
            if required:
                self.add(where, "missing")
            return {}
        if isinstance(value, str):
            value = {DEFAULT_LANGUAGE: value}
        if not isinstance(value, Mapping):
            self.add(where, "a string or a table of language = text")
            return {}
        out: Labels = {}
        for language, text in value.items():
            if not isinstance(language, str) or not _LANGUAGE.match(language):
                self.add(f"{where}.{language}", "not a language code such as 'en' or 'lg'")
            elif not isinstance(text, str) or not text.strip():
                self.add(f"{where}.{language}", "must be non-empty text")
            else:
                out[language] = text.strip()
        if DEFAULT_LANGUAGE not in out and not any(
            p.field.startswith(where) for p in self.problems
        ):
            self.add(where, "English ('en') is required")
        return out

    def unknown_keys(self, where: str, data: Mapping[str, Any], known: set[str]) -> None:
        for key in sorted(set(data) - known):
            self.add(f"{where}.{key}" if where else key, "unknown key")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _as_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _parse_bounds(check: _Checker, where: str, kind: str, raw: Mapping[str, Any]) -> tuple:
    low, high = raw.get("min"), raw.get("max")
    if kind == "date":
        parsed = []
        for key, value in (("min", low), ("max", high)):
            if value is None:
                parsed.append(None)
            elif _as_date(value) is None:
                check.add(f"{where}.{key}", "must be a date (YYYY-MM-DD)")
                parsed.append(None)
            else:
                parsed.append(_as_date(value))
        low, high = parsed
    elif kind in NUMERIC_TYPES:
        for key, value in (("min", low), ("max", high)):
            if value is None:
                continue
            if kind == "decimal" and not _is_number(value):
                check.add(f"{where}.{key}", "must be a number")
            elif kind != "decimal" and not _is_int(value):
                check.add(f"{where}.{key}", "must be a whole number")
        if kind == "scale" and (low is None or high is None):
            check.add(where, "a scale needs min and max")
    else:
        for key in ("min", "max"):
            if raw.get(key) is not None:
                check.add(f"{where}.{key}", f"not allowed for type {kind}")
        return None, None
    if low is not None and high is not None and type(low) is type(high) and low > high:
        check.add(f"{where}.min", "is above max")
    return low, high


def _parse_choices(check: _Checker, where: str, kind: str, raw: Any, low, high) -> tuple:
    if raw is None:
        if kind in CHOICE_TYPES:
            check.add(f"{where}.choices", "a choice field needs choices")
        return ()
    if kind not in CHOICE_TYPES and kind != "scale":
        check.add(f"{where}.choices", f"not allowed for type {kind}")
        return ()
    if not isinstance(raw, list) or not raw:
        check.add(f"{where}.choices", "a non-empty list of { value, label }")
        return ()
    choices: list[Choice] = []
    seen: set[Any] = set()
    for index, item in enumerate(raw):
        at = f"{where}.choices[{index}]"
        if not isinstance(item, Mapping):
            check.add(at, "must be a table { value = ..., label = ... }")
            continue
        check.unknown_keys(at, item, {"value", "label"})
        value = item.get("value")
        if kind == "scale":
            if not _is_int(value):
                check.add(f"{at}.value", "a scale point is a whole number")
                continue
            if _is_int(low) and _is_int(high) and not low <= value <= high:
                check.add(f"{at}.value", f"outside the scale {low}–{high}")
        elif not (isinstance(value, str) and _CODE.match(value)):
            check.add(f"{at}.value", "a lowercase code of letters, digits and _ ('full_time', '1')")
            continue
        if value in seen:
            check.add(f"{at}.value", f"duplicate value {value!r}")
        seen.add(value)
        choices.append(Choice(value=value, label=check.labels(f"{at}.label", item.get("label"))))
    return tuple(choices)


def _parse_condition(
    check: _Checker, where: str, raw: Any, earlier: Mapping[str, FieldDefinition]
) -> Condition | None:
    if raw is None:
        return None
    at = f"{where}.show_if"
    if not isinstance(raw, Mapping):
        check.add(at, "must be a table such as { field = 'employment', equals = 'employed' }")
        return None
    check.unknown_keys(at, raw, {"field", *_CONDITION_OPS})
    ops = [op for op in _CONDITION_OPS if op in raw]
    if len(ops) != 1:
        check.add(at, f"needs exactly one of {', '.join(_CONDITION_OPS)}")
        return None
    op, value = ops[0], raw[ops[0]]
    target = earlier.get(raw.get("field"))  # type: ignore[arg-type]
    if target is None:
        check.add(f"{at}.field", f"{raw.get('field')!r} is not an earlier field of this instrument")
        return None

    def fits(v: Any) -> bool:
        if target.type in CHOICE_TYPES:
            return v in target.choice_values
        if target.type == "yes_no":
            return isinstance(v, bool)
        if target.type in ("integer", "scale"):
            return _is_int(v)
        if target.type == "decimal":
            return _is_number(v)
        if target.type == "text":
            return isinstance(v, str)
        return _as_date(v) is not None

    if op == "contains":
        if target.type != "multiple_choice":
            check.add(f"{at}.contains", "only for a multiple-choice field")
            return None
    elif target.type == "multiple_choice":
        check.add(f"{at}.{op}", "a multiple-choice field is tested with 'contains'")
        return None
    if op == "any_of":
        if not isinstance(value, list) or not value or not all(fits(v) for v in value):
            check.add(f"{at}.any_of", f"a list of possible answers of {target.name}")
            return None
        value = list(value)
    elif not fits(value):
        check.add(f"{at}.{op}", f"{value!r} is not a possible answer of {target.name}")
        return None
    if target.type == "date":
        value = _as_date(value).isoformat()  # type: ignore[union-attr]
    return Condition(field=target.name, op=op, value=value)


def _parse_field(
    check: _Checker, index: int, raw: Any, earlier: Mapping[str, FieldDefinition]
) -> FieldDefinition | None:
    if not isinstance(raw, Mapping):
        check.add(f"fields[{index}]", "must be a table ([[fields]])")
        return None
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        check.add(f"fields[{index}].name", "a lowercase name of letters, digits and _ (max 63)")
        return None
    where = f"fields.{name}"
    if name in earlier:
        check.add(f"{where}.name", "defined twice")
        return None
    check.unknown_keys(where, raw, _FIELD_KEYS)
    kind = raw.get("type")
    if kind not in FIELD_TYPES:
        check.add(f"{where}.type", f"{kind!r} is not one of {', '.join(FIELD_TYPES)}")
        return None
    low, high = _parse_bounds(check, where, kind, raw)
    required = raw.get("required", False)
    if not isinstance(required, bool):
        check.add(f"{where}.required", "must be true or false")
    units = raw.get("units")
    if units is not None and (not isinstance(units, str) or kind not in NUMERIC_TYPES):
        check.add(f"{where}.units", "text, for numeric fields only")
        units = None
    reverse = raw.get("reverse", False)
    if reverse and kind != "scale":
        check.add(f"{where}.reverse", "only scale items are reverse-scored")
    max_length = raw.get("max_length")
    if max_length is not None and (kind != "text" or not _is_int(max_length) or max_length < 1):
        check.add(f"{where}.max_length", "a positive whole number, for text fields only")
        max_length = None
    multiline = raw.get("multiline", False)
    if multiline and kind != "text":
        check.add(f"{where}.multiline", "only for text fields")
    widget = raw.get("widget")
    if widget is not None and (kind != "single_choice" or widget not in WIDGETS):
        check.add(f"{where}.widget", f"one of {', '.join(WIDGETS)}, for single choice only")
        widget = None
    identifier = raw.get("identifier", False)
    if not isinstance(identifier, bool):
        check.add(f"{where}.identifier", "must be true or false")
    return FieldDefinition(
        name=name,
        type=kind,
        label=check.labels(f"{where}.label", raw.get("label")),
        help=check.labels(f"{where}.help", raw.get("help"), required=False),
        section=check.labels(f"{where}.section", raw.get("section"), required=False),
        required=bool(required),
        min=low,
        max=high,
        units=units,
        choices=_parse_choices(check, where, kind, raw.get("choices"), low, high),
        show_if=_parse_condition(check, where, raw.get("show_if"), earlier),
        reverse=bool(reverse),
        max_length=max_length,
        multiline=bool(multiline),
        widget=widget,
        identifier=bool(identifier),
    )


def _parse_score(
    check: _Checker, index: int, raw: Any, fields: Mapping[str, FieldDefinition]
) -> ScoreDefinition | None:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
        check.add(f"scores[{index}]", "a table with a name")
        return None
    name = raw["name"]
    where = f"scores.{name}"
    if not _NAME.match(name):
        check.add(f"{where}.name", "a lowercase name of letters, digits and _")
    if name in fields:
        check.add(f"{where}.name", "clashes with a field of the same name")
    check.unknown_keys(where, raw, _SCORE_KEYS)
    method = raw.get("method", "sum")
    if method not in SCORE_METHODS:
        check.add(f"{where}.method", f"one of {', '.join(SCORE_METHODS)}")
    items = raw.get("items")
    if not isinstance(items, list) or not items:
        check.add(f"{where}.items", "a non-empty list of field names")
        items = []
    for item in items:
        target = fields.get(item)
        if target is None or target.type not in NUMERIC_TYPES:
            check.add(f"{where}.items", f"{item!r} is not a numeric field of this instrument")
    min_answered = raw.get("min_answered")
    if min_answered is not None and (
        not _is_int(min_answered) or not 1 <= min_answered <= len(items)
    ):
        check.add(f"{where}.min_answered", f"a whole number from 1 to {len(items)}")
        min_answered = None
    return ScoreDefinition(
        name=name,
        label=check.labels(f"{where}.label", raw.get("label")),
        items=tuple(items),
        method=method,
        min_answered=min_answered,
    )


def parse_definition(
    data: Mapping[str, Any], source: str, events: Iterable[str] | None = None
) -> InstrumentDefinition:
    """Validate a definition's data; raise :class:`DefinitionError` with every problem.

    ``events``: the schedule's event names, when known, to check ``events`` against.
    """
    check = _Checker(source)
    check.unknown_keys("", data, _TOP_KEYS)
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        check.add("name", "a lowercase name of letters, digits and _ (max 63)")
        name = "?"
    version = data.get("version")
    if not _is_int(version) or version < 1:
        check.add("version", "a whole number from 1")
        version = 0
    title = check.labels("title", data.get("title"))
    description = check.labels("description", data.get("description"), required=False)
    respondents = data.get("respondents", ["service_user"])
    if (
        not isinstance(respondents, list)
        or not respondents
        or not all(r in RESPONDENT_CATEGORIES for r in respondents)
    ):
        check.add("respondents", f"a list of {', '.join(RESPONDENT_CATEGORIES)}")
        respondents = []
    event_list = data.get("events", [])
    if not isinstance(event_list, list) or not all(isinstance(e, str) for e in event_list):
        check.add("events", "a list of event names such as 'T0'")
        event_list = []
    known_events = set(events) if events is not None else None
    for event in event_list:
        if known_events is not None and event not in known_events:
            check.add(
                "events", f"{event!r} is not a schedule event ({', '.join(sorted(known_events))})"
            )
    if event_list and respondents != ["service_user"]:
        check.add("events", "only service-user instruments are scheduled")
    raw_fields = data.get("fields")
    fields: dict[str, FieldDefinition] = {}
    if not isinstance(raw_fields, list) or not raw_fields:
        check.add("fields", "at least one [[fields]] table")
        raw_fields = []
    for index, raw in enumerate(raw_fields):
        parsed = _parse_field(check, index, raw, fields)
        if parsed is not None:
            fields[parsed.name] = parsed
    raw_scores = data.get("scores", [])
    scores = []
    if not isinstance(raw_scores, list):
        check.add("scores", "a list of [[scores]] tables")
        raw_scores = []
    for index, raw in enumerate(raw_scores):
        parsed_score = _parse_score(check, index, raw, fields)
        if parsed_score is not None:
            scores.append(parsed_score)
    if check.problems:
        raise DefinitionError(check.problems)
    return InstrumentDefinition(
        name=name,
        version=version,
        title=title,
        description=description,
        respondents=tuple(respondents),
        events=tuple(event_list),
        fields=tuple(fields.values()),
        scores=tuple(scores),
    )
