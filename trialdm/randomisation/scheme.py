"""The trial's randomisation scheme, declared in a TOML file (not code): arms and
their ratio, the block sizes to draw from, and the strata beyond the site."""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trialdm.participants.vocabulary import ARMS, GENDERS, MARITAL_STATUSES

# Participant fields a trial may stratify by, and the values each can hold.
STRATIFIABLE: dict[str, tuple[str, ...]] = {
    "gender": GENDERS,
    "marital_status": MARITAL_STATUSES,
}
MAX_SLOTS_PER_STRATUM = 100_000


class SchemeError(Exception):
    """The scheme file is unusable; the message names the file, key and problem."""

    def __init__(self, path: str, key: str, problem: str) -> None:
        super().__init__(f"{path}: {key}: {problem}")
        self.path, self.key, self.problem = path, key, problem


@dataclass(frozen=True)
class Stratum:
    field: str
    levels: tuple[str, ...]


@dataclass(frozen=True)
class Scheme:
    ratio: tuple[tuple[str, int], ...]
    block_sizes: tuple[int, ...]
    strata: tuple[Stratum, ...]
    slots_per_stratum: int

    @property
    def arms(self) -> tuple[str, ...]:
        return tuple(arm for arm, _ in self.ratio)

    def stratum_keys(self) -> list[str]:
        """Every stratum within a site, as stored ("" when the site is the only one)."""
        if not self.strata:
            return [""]
        combos = itertools.product(*(s.levels for s in self.strata))
        return [
            "|".join(f"{s.field}={level}" for s, level in zip(self.strata, combo, strict=True))
            for combo in combos
        ]

    def stratum_of(self, values: Mapping[str, Any]) -> tuple[str | None, dict[str, str]]:
        """The stratum key of a participant's field values, or None and a message per
        field that does not name a level."""
        parts, problems = [], {}
        for stratum in self.strata:
            value = values.get(stratum.field)
            if value not in stratum.levels:
                shown = "missing" if value is None else f"'{value}'"
                problems[stratum.field] = (
                    f"Needed to randomise: one of {', '.join(stratum.levels)} ({shown})."
                )
                continue
            parts.append(f"{stratum.field}={value}")
        return (None, problems) if problems else ("|".join(parts), {})

    def as_json(self) -> dict[str, Any]:
        return {
            "ratio": dict(self.ratio),
            "block_sizes": list(self.block_sizes),
            "strata": [{"field": s.field, "levels": list(s.levels)} for s in self.strata],
            "slots_per_stratum": self.slots_per_stratum,
        }


def parse_scheme(data: Mapping[str, Any], path: str) -> Scheme:
    ratio_raw = data.get("ratio", {"intervention": 1, "control": 1})
    if not isinstance(ratio_raw, dict) or set(ratio_raw) != set(ARMS):
        raise SchemeError(path, "ratio", f"give a whole number for each arm: {', '.join(ARMS)}")
    ratio = []
    for arm in ARMS:
        share = ratio_raw[arm]
        if not isinstance(share, int) or isinstance(share, bool) or share < 1:
            raise SchemeError(path, f"ratio.{arm}", "must be a whole number of 1 or more")
        ratio.append((arm, share))
    total = sum(share for _, share in ratio)

    sizes = data.get("block_sizes")
    if not isinstance(sizes, list) or not sizes:
        raise SchemeError(path, "block_sizes", "give a list of block sizes, such as [2, 4, 6]")
    for index, size in enumerate(sizes, start=1):
        where = f"block_sizes[{index}]"
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise SchemeError(path, where, "must be a whole number of 1 or more")
        if size % total:
            raise SchemeError(path, where, f"{size} is not a multiple of the ratio's sum {total}")
    if len(set(sizes)) != len(sizes):
        raise SchemeError(path, "block_sizes", "a size is listed twice")

    per_stratum = data.get("slots_per_stratum", 300)
    if (
        not isinstance(per_stratum, int)
        or isinstance(per_stratum, bool)
        or not 1 <= per_stratum <= MAX_SLOTS_PER_STRATUM
    ):
        raise SchemeError(
            path, "slots_per_stratum", f"must be a whole number from 1 to {MAX_SLOTS_PER_STRATUM}"
        )

    strata_raw = data.get("strata", [])
    if not isinstance(strata_raw, list):
        raise SchemeError(path, "strata", "must be a list of [[strata]] tables")
    strata: list[Stratum] = []
    for index, item in enumerate(strata_raw, start=1):
        where = f"strata[{index}]"
        if not isinstance(item, dict) or set(item) - {"field", "levels"}:
            raise SchemeError(path, where, "give only 'field' and 'levels'")
        name = item.get("field")
        if name not in STRATIFIABLE:
            raise SchemeError(
                path, f"{where}.field", f"'{name}' cannot stratify; use {', '.join(STRATIFIABLE)}"
            )
        if any(s.field == name for s in strata):
            raise SchemeError(path, f"{where}.field", f"'{name}' is listed twice")
        levels = item.get("levels")
        if not isinstance(levels, list) or not levels:
            raise SchemeError(path, f"{where}.levels", "give the list of levels")
        unknown = [level for level in levels if level not in STRATIFIABLE[name]]
        if unknown:
            raise SchemeError(
                path,
                f"{where}.levels",
                f"not values of {name}: {', '.join(map(str, unknown))} "
                f"(use {', '.join(STRATIFIABLE[name])})",
            )
        if len(set(levels)) != len(levels):
            raise SchemeError(path, f"{where}.levels", "a level is listed twice")
        strata.append(Stratum(field=name, levels=tuple(levels)))

    unknown_keys = set(data) - {"ratio", "block_sizes", "slots_per_stratum", "strata"}
    if unknown_keys:
        raise SchemeError(path, sorted(unknown_keys)[0], "unknown key")
    return Scheme(
        ratio=tuple(ratio),
        block_sizes=tuple(sizes),
        strata=tuple(strata),
        slots_per_stratum=per_stratum,
    )


def load_scheme(path: str | Path) -> Scheme:
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SchemeError(str(file), "(file)", "no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SchemeError(str(file), "(file)", f"not valid TOML: {exc}") from None
    return parse_scheme(data, str(file))


def scheme_from_json(data: Mapping[str, Any]) -> Scheme:
    """The scheme a list was made for, as stored with it."""
    return parse_scheme(data, "(stored list)")
