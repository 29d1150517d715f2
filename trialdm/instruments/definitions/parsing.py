"""Parsing and validating instrument files into the classes of :mod:`.model`, every
problem reported with its file, field and reason."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from trialdm.instruments.definitions.binding import parse_binding
from trialdm.instruments.definitions.checker import Checker, is_int, is_number
from trialdm.instruments.definitions.conditions import parse_calculation, parse_condition
from trialdm.instruments.definitions.dates import as_date_bound
from trialdm.instruments.definitions.model import (
    CHOICE_TYPES,
    FIELD_TYPES,
    NUMERIC_TYPES,
    RESPONDENT_CATEGORIES,
    SCORE_METHODS,
    Choice,
    DefinitionError,
    DefinitionProblem,
    FieldDefinition,
    InstrumentDefinition,
    ScoreDefinition,
)
from trialdm.instruments.definitions.options import parse_options, text_bound
from trialdm.instruments.logic import references

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# REDCap's raw choice codes: letters, digits and _, or a (negative, decimal) number
_CODE = re.compile(r"^([A-Za-z0-9_]{1,63}|-?\d{1,30}(\.\d{1,30})?)$")
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
    "format",
    "date_order",
    "decimals",
    "show_number",
    "identifier",
    "matrix",
    "matrix_ranking",
    "alignment",
    "question_number",
    "annotation",
    "record_field",
    "record_codes",
    "record_groups",
}
_SCORE_KEYS = {
    "name",
    "label",
    "method",
    "items",
    "min_answered",
    "calculation",
    "help",
    "section",
    "annotation",
    "after",
}


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


def _parse_bounds(check: Checker, where: str, kind: str, raw: Mapping[str, Any]) -> tuple:
    low, high = raw.get("min"), raw.get("max")
    if kind == "date":
        parsed = []
        for key, value in (("min", low), ("max", high)):
            bound = None if value is None else as_date_bound(value)
            if value is not None and bound is None:
                check.add(
                    f"{where}.{key}",
                    "must be a date (YYYY-MM-DD), 'today', or 'today' plus or minus days "
                    "('today-30', 'today+7')",
                )
            parsed.append(bound)
        low, high = parsed
    elif kind in NUMERIC_TYPES:
        for key, value in (("min", low), ("max", high)):
            if value is None:
                continue
            if kind == "decimal" and not is_number(value):
                check.add(f"{where}.{key}", "must be a number")
            elif kind != "decimal" and not is_int(value):
                check.add(f"{where}.{key}", "must be a whole number")
        if kind == "scale" and (low is None or high is None):
            check.add(where, "a scale needs min and max")
    elif kind == "text" and (low is not None or high is not None):
        low = text_bound(check, f"{where}.min", raw.get("format"), low)
        high = text_bound(check, f"{where}.max", raw.get("format"), high)
    else:
        for key in ("min", "max"):
            if raw.get(key) is not None:
                check.add(f"{where}.{key}", f"not allowed for type {kind}")
        return None, None
    if low is not None and high is not None and type(low) is type(high) and low > high:
        check.add(f"{where}.min", "is above max")
    return low, high


def _parse_choices(check: Checker, where: str, kind: str, raw: Any, low, high) -> tuple:
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
            if not is_int(value):
                check.add(f"{at}.value", "a scale point is a whole number")
                continue
            if is_int(low) and is_int(high) and not low <= value <= high:
                check.add(f"{at}.value", f"outside the scale {low}–{high}")
        elif not (isinstance(value, str) and _CODE.match(value)):
            check.add(
                f"{at}.value", "a code of letters, digits and _, or a number ('full_time', '-1')"
            )
            continue
        if value in seen:
            check.add(f"{at}.value", f"duplicate value {value!r}")
        seen.add(value)
        choices.append(Choice(value=value, label=check.labels(f"{at}.label", item.get("label"))))
    return tuple(choices)


def _parse_field(
    check: Checker,
    index: int,
    raw: Any,
    earlier: Mapping[str, FieldDefinition],
    names: Iterable[str],
    bound: dict[str, str],
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
    if max_length is not None and (kind != "text" or not is_int(max_length) or max_length < 1):
        check.add(f"{where}.max_length", "a positive whole number, for text fields only")
        max_length = None
    multiline = raw.get("multiline", False)
    if multiline and kind != "text":
        check.add(f"{where}.multiline", "only for text fields")
    options = parse_options(check, where, kind, raw)
    if kind == "descriptive" and required:
        check.add(f"{where}.required", "a descriptive field takes no answer")
    choices = _parse_choices(check, where, kind, raw.get("choices"), low, high)
    binding = parse_binding(check, where, kind, raw, choices, bound)
    if options["widget"] == "slider" and is_int(low) and is_int(high):
        ends = {low, high, (low + high) // 2}
        if any(c.value not in ends for c in choices) or (
            (low + high) % 2 and (low + high) // 2 in [c.value for c in choices]
        ):
            check.add(
                f"{where}.choices",
                "a slider labels only its two ends and its middle point",
            )
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
        choices=choices,
        show_if=parse_condition(check, where, raw.get("show_if"), earlier, names),
        reverse=bool(reverse),
        max_length=max_length,
        multiline=bool(multiline),
        **options,
        **binding,
    )


def _parse_score(
    check: Checker,
    index: int,
    raw: Any,
    fields: Mapping[str, FieldDefinition],
    earlier: Iterable[ScoreDefinition],
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
    method = raw.get("method", "calc" if "calculation" in raw else "sum")
    label = check.labels(f"{where}.label", raw.get("label"))
    after = raw.get("after")
    if after is not None and after not in fields:
        check.add(f"{where}.after", f"{after!r} is not a field of this instrument")
        after = None
    annotation = raw.get("annotation")
    if annotation is not None and (not isinstance(annotation, str) or not annotation.strip()):
        check.add(f"{where}.annotation", "must be non-empty text")
        annotation = None
    shown = {
        "label": label,
        "help": check.labels(f"{where}.help", raw.get("help"), required=False),
        "section": check.labels(f"{where}.section", raw.get("section"), required=False),
        "annotation": annotation,
        "after": after,
    }
    if method not in SCORE_METHODS:
        check.add(f"{where}.method", f"one of {', '.join(SCORE_METHODS)}")
    if method == "calc":
        calculation = parse_calculation(check, where, raw, fields, earlier)
        if calculation is None:
            return None
        referred = dict.fromkeys(ref.field for ref in references(calculation.tree))
        return ScoreDefinition(
            name=name, items=tuple(referred), method=method, calculation=calculation, **shown
        )
    if "calculation" in raw:
        check.add(f"{where}.calculation", "only with method = 'calc'")
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
        not is_int(min_answered) or not 1 <= min_answered <= len(items)
    ):
        check.add(f"{where}.min_answered", f"a whole number from 1 to {len(items)}")
        min_answered = None
    return ScoreDefinition(
        name=name, items=tuple(items), method=method, min_answered=min_answered, **shown
    )


def parse_definition(
    data: Mapping[str, Any], source: str, events: Iterable[str] | None = None
) -> InstrumentDefinition:
    """Validate a definition's data; raise :class:`DefinitionError` with every problem.

    ``events``: the schedule's event names, when known, to check ``events`` against.
    """
    check = Checker(source)
    check.unknown_keys("", data, _TOP_KEYS)
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        check.add("name", "a lowercase name of letters, digits and _ (max 63)")
        name = "?"
    version = data.get("version")
    if not is_int(version) or version < 1:
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
    names = [r.get("name") for r in raw_fields if isinstance(r, Mapping)]
    bound: dict[str, str] = {}
    for index, raw in enumerate(raw_fields):
        parsed = _parse_field(check, index, raw, fields, names, bound)
        if parsed is not None:
            fields[parsed.name] = parsed
    raw_scores = data.get("scores", [])
    scores = []
    if not isinstance(raw_scores, list):
        check.add("scores", "a list of [[scores]] tables")
        raw_scores = []
    for index, raw in enumerate(raw_scores):
        parsed_score = _parse_score(check, index, raw, fields, scores)
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
