"""Items bound to the participant record: ``record_field = "gender"`` in an instrument
file says that the item asks for a characteristic the participant record holds.

The record is then the one source of truth: the item is filled from the record when
the questionnaire is shown and a saved answer is written to the record (see
:mod:`trialdm.instruments.record`). So that a value can always travel both ways
exactly, the file is checked here at load: the name must be a characteristic of
:data:`~trialdm.participants.vocabulary.RECORD_CHARACTERISTICS`, the item's type must
hold what the record holds, and a choice item's codes must correspond one to one to
the record's codes, those that are spelt differently declared in ``record_codes``
(item code = record code)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trialdm.instruments.definitions.checker import Checker
from trialdm.instruments.definitions.derived import DERIVED_RECORD_FIELDS, parse_groups
from trialdm.instruments.definitions.model import Choice
from trialdm.participants.vocabulary import RECORD_CHARACTERISTICS

# kind of a record characteristic -> the item types that hold it exactly
ITEM_TYPES: dict[str, tuple[str, ...]] = {
    "code": ("single_choice",),
    "integer": ("integer",),
    "number": ("decimal",),
    "text": ("text",),
}


def parse_binding(
    check: Checker,
    where: str,
    kind: str,
    raw: Mapping[str, Any],
    choices: tuple[Choice, ...],
    bound: dict[str, str],
) -> dict[str, Any]:
    """``record_field`` and ``record_codes`` of a field, checked; ``bound`` (record
    field -> item name, of the fields before) refuses a second item for one field."""
    name = raw.get("record_field")
    codes = raw.get("record_codes")
    if name is None or name in DERIVED_RECORD_FIELDS:
        for key in ("record_codes", "record_groups"):
            if raw.get(key) is not None and (name is None or key == "record_codes"):
                check.add(
                    f"{where}.{key}", "only with record_field (of a characteristic held as a code)"
                )
    if name in DERIVED_RECORD_FIELDS:
        # read-only, derived from the record (.derived): one item of each kind
        key = f"{name}:{kind}"
        if key in bound:
            check.add(f"{where}.record_field", f"{name} is bound to {bound[key]!r} already")
        bound.setdefault(key, where.rsplit(".", 1)[-1])
        if raw.get("required"):
            check.add(
                f"{where}.required",
                "a derived item is read-only: the record, not the questionnaire, can require it",
            )
        groups = parse_groups(check, where, kind, raw.get("record_groups"), choices)
        return {"record_field": name, "record_codes": {}, "record_groups": groups}
    if name is None:
        return {"record_field": None, "record_codes": {}}
    if not isinstance(name, str) or name not in RECORD_CHARACTERISTICS:
        check.add(
            f"{where}.record_field",
            f"{name!r} is not a characteristic of the participant record "
            f"(one of {', '.join(RECORD_CHARACTERISTICS)})",
        )
        return {"record_field": None, "record_codes": {}}
    characteristic = RECORD_CHARACTERISTICS[name]
    if kind not in ITEM_TYPES[characteristic.kind]:
        check.add(
            f"{where}.record_field",
            f"the record's {name} is {characteristic.kind}; an item of type {kind} "
            f"cannot hold it (use {' or '.join(ITEM_TYPES[characteristic.kind])})",
        )
    if name in bound:
        check.add(f"{where}.record_field", f"{name} is bound to {bound[name]!r} already")
    bound.setdefault(name, where.rsplit(".", 1)[-1])
    if raw.get("show_if") is not None:
        check.add(
            f"{where}.record_field",
            "a bound item cannot have show_if: the record holds its value whatever the form shows",
        )
    mapping = _parse_codes(check, where, codes, characteristic.kind)
    if characteristic.kind == "code":
        _check_codes(check, where, name, choices, mapping, characteristic.codes)
    return {"record_field": name, "record_codes": mapping}


def _parse_codes(check: Checker, where: str, codes: Any, kind: str) -> dict[str, str]:
    if codes is None:
        return {}
    if kind != "code":
        check.add(f"{where}.record_codes", "only for a characteristic held as a code")
        return {}
    if not isinstance(codes, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in codes.items()
    ):
        check.add(
            f"{where}.record_codes", 'a table of item code = record code, { single = "unmarried" }'
        )
        return {}
    return dict(codes)


def _check_codes(
    check: Checker,
    where: str,
    name: str,
    choices: tuple[Choice, ...],
    mapping: Mapping[str, str],
    record_codes: tuple[str, ...],
) -> None:
    item_codes = [str(c.value) for c in choices]
    for code in mapping:
        if code not in item_codes:
            check.add(f"{where}.record_codes.{code}", "is not a choice of this item")
    reached: dict[str, str] = {}
    for code in item_codes:
        target = mapping.get(code, code)
        if target not in record_codes:
            check.add(
                f"{where}.choices",
                f"{code!r} is not a {name} code of the record "
                f"({', '.join(record_codes)}); map it in record_codes",
            )
        elif target in reached:
            check.add(
                f"{where}.record_codes",
                f"{reached[target]!r} and {code!r} both stand for the record's {target!r}",
            )
        reached.setdefault(target, code)
    missing = [code for code in record_codes if code not in reached]
    if missing:
        check.add(
            f"{where}.choices",
            f"the record's {name} can be {', '.join(map(repr, missing))}, "
            "which no choice of the item shows",
        )
