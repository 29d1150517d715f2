"""SPSS ``.sav`` and Stata ``.dta`` files through pyreadstat (ReadStat).

ReadStat writes a whole data frame, so one dataset's columns are held at a time,
as typed arrays (not Python rows). Coded answers are stored as numbers 1, 2, ...
with value labels; missing-data codes are -7/-8/-9, declared user-missing in SPSS
and written as Stata's extended missing values .a/.b/.c with labels.

Names: Stata allows 32 characters of letters, digits and _, SPSS 64; a longer or
reserved name is shortened to a unique name, and the codebook lists both. A
variable label longer than the format holds (Stata: 80 characters) is shortened
in the file with a closing ellipsis, and the codebook has it whole with a note.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyreadstat

from trialdm.core.errors import DomainError
from trialdm.exports.datasets import MISSING_LABELS, MISSING_VALUES, Dataset, Row
from trialdm.exports.writers import NamedVariable
from trialdm.instruments.definitions import Missing

NAME_LIMITS = {"stata": 32, "spss": 64}
LABEL_LIMITS = {"stata": 80, "spss": 256}
RESERVED = {
    "stata": {
        "_all", "_b", "byte", "_coef", "_cons", "double", "float", "if", "in", "int",
        "long", "_n", "_N", "_pi", "_pred", "_rc", "_skip", "strL", "using", "with",
    },
    "spss": {"all", "and", "by", "eq", "ge", "gt", "le", "lt", "ne", "not", "or", "to", "with"},
}  # fmt: skip
# Stata's extended missing values for the missing-data codes.
STATA_MISSING = {"not_asked": "a", "dont_know": "b", "refused": "c"}
_VALID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def file_names(dataset: Dataset, fmt: str) -> list[NamedVariable]:
    """Each variable with its name and label in ``fmt`` files (shortened, with a
    note for the codebook, when too long)."""
    limit = NAME_LIMITS.get(fmt)
    label_limit = LABEL_LIMITS.get(fmt)
    named: list[NamedVariable] = []
    taken: set[str] = set()
    for index, variable in enumerate(dataset.variables, start=1):
        name, note = variable.name, ""
        reserved = limit is not None and name.lower() in {r.lower() for r in RESERVED[fmt]}
        if limit is not None and (len(name) > limit or reserved or not _VALID.match(name)):
            suffix = f"_v{index}"
            name = name[: limit - len(suffix)] + suffix
            note = f"named {name} in the .{'dta' if fmt == 'stata' else 'sav'} file"
        if name.lower() in taken:
            raise DomainError(
                f"Dataset {dataset.name}: two variables would be called {name} in {fmt} files."
            )
        taken.add(name.lower())
        label = variable.label
        if label_limit is not None and len(label) > label_limit:
            label = label[: label_limit - 1] + "…"
            shortened = f"label shortened to {label_limit} characters in the file"
            note = f"{note}; {shortened}" if note else shortened
        named.append(NamedVariable(variable, name, note, label))
    return named


def _stat_value(kind: str, value: Any, variable, fmt: str) -> Any:
    if value is None:
        return None
    if isinstance(value, Missing):
        if kind == "string":
            return str(MISSING_VALUES[value.code])
        return STATA_MISSING[value.code] if fmt == "stata" else float(MISSING_VALUES[value.code])
    if kind == "code":
        return float(variable.code_number(value))
    return value


def write_stat_file(
    path: Path, dataset: Dataset, named: list[NamedVariable], rows: Iterable[Row], fmt: str
) -> int:
    """Write ``dataset`` as .sav (``fmt`` 'spss') or .dta ('stata'); rows written."""
    variables = [n.variable for n in named]
    columns: list[list[Any]] = [[] for _ in variables]
    count = 0
    for row in rows:
        for column, variable, value in zip(columns, variables, row, strict=True):
            column.append(_stat_value(variable.kind, value, variable, fmt))
        count += 1
    frame: dict[str, Any] = {}
    value_labels: dict[str, dict[Any, str]] = {}
    missing_ranges: dict[str, list[Any]] = {}
    user_missing: dict[str, list[str]] = {}
    for item, variable, values in zip(named, variables, columns, strict=True):
        has_missing = variable.kind != "string" and any(isinstance(v, str) for v in values)
        if variable.kind in ("string", "date"):
            frame[item.name] = pd.Series(values, dtype=object)
        elif fmt == "stata" and has_missing:
            frame[item.name] = pd.Series([np.nan if v is None else v for v in values], dtype=object)
            user_missing[item.name] = sorted({v for v in values if isinstance(v, str)})
        else:
            frame[item.name] = pd.Series(
                [np.nan if v is None else float(v) for v in values], dtype="float64"
            )
        labels = dict(variable.numbered_labels()) if variable.kind != "string" else {}
        if fmt == "stata":
            # Stata labels whole numbers only; .a/.b/.c are explained in the codebook.
            for number in MISSING_LABELS:
                labels.pop(number, None)
        if labels:
            value_labels[item.name] = labels
        if fmt == "spss" and variable.missing_codes:
            if variable.kind == "string":
                missing_ranges[item.name] = [str(n) for n in sorted(MISSING_LABELS)][:3]
            else:
                missing_ranges[item.name] = [float(n) for n in sorted(MISSING_LABELS)]
    data = pd.DataFrame(frame, columns=[n.name for n in named])
    column_labels = {n.name: n.file_label or n.variable.label for n in named}
    if fmt == "spss":
        pyreadstat.write_sav(
            data,
            str(path),
            file_label=dataset.label[:64],
            column_labels=column_labels,
            variable_value_labels=value_labels,
            missing_ranges=missing_ranges,
        )
    else:
        pyreadstat.write_dta(
            data,
            str(path),
            file_label=dataset.label[:80],
            column_labels=column_labels,
            variable_value_labels=value_labels,
            missing_user_values=user_missing,
            version=15,
        )
    return count
