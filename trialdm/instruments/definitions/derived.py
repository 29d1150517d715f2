"""Items derived from the participant record, read-only: ``record_field = "diagnoses"``.

The record holds diagnoses as codes of any ICD-10 depth (``F20.1``) or a study's own
word codes, which a questionnaire's diagnosis groups cannot show exactly; a group
answer could not be written back as codes either. So such an item is never written to
the record: it shows the record's diagnoses grouped by ``record_groups`` (choice =
codes it covers: a range ``"F20-F29"``, a code or code prefix ``"F31"``, several
separated by commas, and exactly one catch-all choice ``"*"`` for every other code),
and a text item bound to ``diagnoses`` shows the diagnoses that fell into the
catch-all, each as the record's own text where it has one, else as its code, joined
by ``"; "``. An answer equal to the derived value (or none) is accepted and not
stored; a different one is refused (:mod:`trialdm.instruments.record`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from trialdm.instruments.definitions.checker import Checker
from trialdm.instruments.definitions.model import Choice

DERIVED_RECORD_FIELDS = ("diagnoses",)
CATCH_ALL = "*"
OTHER_SEPARATOR = "; "

_CODE = re.compile(r"^[A-Z][0-9]{2}(\.[0-9A-Z]+)?$")
RANGE = re.compile(r"^([A-Z][0-9]{2})-([A-Z][0-9]{2})$")


def group_parts(group: str) -> list[str]:
    return [part.strip().upper() for part in group.split(",") if part.strip()]


def group_problem(group: Any) -> str | None:
    """Why ``group`` is not a well-formed group of codes (None when it is)."""
    if not isinstance(group, str) or not group_parts(group):
        return 'a group of ICD-10 codes such as "F20-F29", "F31" or "F10-F19, F55"'
    for part in group_parts(group):
        found = RANGE.match(part)
        if found:
            low, high = found.groups()
            if low[0] != high[0] or low > high:
                return f"{part!r} is not a range from a lower to a higher code of one chapter"
        elif not _CODE.match(part):
            return f"{part!r} is neither a code (F31, F41.1) nor a range (F20-F29)"
    return None


def in_group(code: str, group: str) -> bool:
    """Whether a recorded code (any depth) belongs to ``group``; word codes never do."""
    code = code.strip().upper()
    if not _CODE.match(code):
        return False
    for part in group_parts(group):
        found = RANGE.match(part)
        if found:
            if found.group(1) <= code[:3] <= found.group(2):
                return True
        elif code == part or code.startswith(part + ".") or ("." in part and code.startswith(part)):
            return True
    return False


def choice_of(code: str, groups: Mapping[str, str]) -> str:
    """The choice a recorded code falls into: the first group holding it, else the catch-all."""
    for choice, group in groups.items():
        if group != CATCH_ALL and in_group(code, group):
            return choice
    return next(choice for choice, group in groups.items() if group == CATCH_ALL)


def grouped(diagnoses: Iterable[Any], groups: Mapping[str, str], order: Sequence[str]) -> Any:
    """The choices the record's diagnoses fall into, in the item's order (None: none)."""
    chosen = {choice_of(d.code, groups) for d in diagnoses}
    return [c for c in order if c in chosen] or None


def others_text(diagnoses: Iterable[Any], groups: Mapping[str, str]) -> str | None:
    """The diagnoses that fell into the catch-all, as written (or their codes)."""
    other = next((c for c, g in groups.items() if g == CATCH_ALL), None)
    words = [d.text or d.code for d in diagnoses if choice_of(d.code, groups) == other]
    return OTHER_SEPARATOR.join(words) or None


def parse_groups(
    check: Checker, where: str, kind: str, raw: Any, choices: tuple[Choice, ...]
) -> dict[str, str]:
    """``record_groups`` of a multiple-choice item derived from the record's diagnoses, checked."""
    if kind == "text":
        if raw is not None:
            check.add(f"{where}.record_groups", "only for the multiple-choice item")
        return {}
    if kind != "multiple_choice":
        check.add(
            f"{where}.record_field",
            f"the record's diagnoses can only be shown by a multiple_choice item (groups) "
            f"or a text item (the other diagnoses), not by {kind}",
        )
        return {}
    if not isinstance(raw, Mapping):
        check.add(
            f"{where}.record_groups",
            'required: a table of choice = codes, { psychosis = "F20-F29", other = "*" }',
        )
        return {}
    item_codes = [str(c.value) for c in choices]
    groups: dict[str, str] = {}
    for choice, group in raw.items():
        if choice not in item_codes:
            check.add(f"{where}.record_groups.{choice}", "is not a choice of this item")
            continue
        if group != CATCH_ALL:
            problem = group_problem(group)
            if problem:
                check.add(f"{where}.record_groups.{choice}", problem)
                continue
        groups[choice] = group
    catch_alls = [c for c, g in raw.items() if g == CATCH_ALL]
    if len(catch_alls) != 1:
        check.add(
            f"{where}.record_groups",
            f'exactly one choice must be the catch-all "*" for every other code '
            f"(found {len(catch_alls)})",
        )
    unmapped = [c for c in item_codes if c not in raw]
    if unmapped:
        check.add(
            f"{where}.record_groups",
            f"the choices {', '.join(map(repr, unmapped))} are not mapped to record codes",
        )
    return {c: groups[c] for c in item_codes if c in groups}
