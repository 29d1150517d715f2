"""SPSS ``.sav`` files through pyreadstat (ReadStat), Stata ``.dta`` files streamed
by :mod:`trialdm.exports.dta`.

ReadStat writes a whole data frame, so one dataset's columns are held at a time
for SPSS, as typed arrays (not Python rows); Stata files are written as rows
arrive. Coded answers are stored as numbers 1, 2, ... with value labels;
missing-data codes are -7/-8/-9 with labels, declared user-missing in SPSS (in
Stata, missing_codes.do makes them the extended missing values .a/.b/.c).

Names: Stata allows 32 characters of letters, digits and _, SPSS 64; a longer or
reserved name is shortened to a unique name, and the codebook lists both. A
variable label longer than the format holds (Stata: 80 characters) is shortened
in the file with a closing ellipsis, and the codebook has it whole with a note.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from flask_babel import gettext

from trialdm.core.errors import ValidationFailed
from trialdm.exports.datasets import (
    MISSING_LABELS,
    MISSING_VALUES,
    Dataset,
    Row,
    Variable,
)
from trialdm.exports.dta import write_dta
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
# Stata's extended missing values for the missing-data codes (missing_codes.do).
STATA_MISSING = {"not_asked": "a", "dont_know": "b", "refused": "c"}
# Day zero of each format's dates, and the display format of a date variable.
EPOCHS = {"stata": date(1960, 1, 1), "spss": date(1582, 10, 14)}
DATE_FORMATS = {"stata": "%td", "spss": "DATE11"}
SECONDS_PER_UNIT = {"stata": 1, "spss": 86400}
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
        room = limit
        reserved = limit is not None and name.lower() in {r.lower() for r in RESERVED[fmt]}
        if room is not None and (len(name) > room or reserved or not _VALID.match(name)):
            suffix = f"_v{index}"
            name = name[: room - len(suffix)] + suffix
            note = gettext(
                "named %(name)s in the .%(extension)s file",
                name=name,
                extension="dta" if fmt == "stata" else "sav",
            )
        if name.lower() in taken:
            raise ValidationFailed(
                f"Dataset {dataset.name}: two variables would be called {name} in {fmt} files."
            )
        taken.add(name.lower())
        label = variable.label
        if label_limit is not None and len(label) > label_limit:
            label = label[: label_limit - 1] + "…"
            shortened = gettext(
                "label shortened to %(count)s characters in the file", count=label_limit
            )
            note = f"{note}; {shortened}" if note else shortened
        named.append(NamedVariable(variable, name, note, label))
    return named


def _stat_value(kind: str, value: Any, variable, fmt: str) -> Any:
    if value is None:
        return None
    if isinstance(value, Missing):
        if kind == "string":
            return str(MISSING_VALUES[value.code])
        return float(MISSING_VALUES[value.code])
    if kind == "code":
        return float(variable.code_number(value))
    if kind == "date":
        day = date.fromisoformat(value[:10]) if isinstance(value, str) else value
        return float((day - EPOCHS[fmt]).days * SECONDS_PER_UNIT[fmt])
    return value


def _text_column(variable: Variable, fmt: str) -> tuple[Callable[[Any], None], Callable[[], Any]]:
    """Collects a text column as numbered categories (a 4-byte code per row, each
    distinct text stored once): site codes, study IDs and times repeat a lot."""
    import pandas as pd

    codes = array("i")
    numbers: dict[str, int] = {}
    add, number = codes.append, numbers.setdefault

    def append(value: Any) -> None:
        cell = _stat_value("string", value, variable, fmt)
        add(-1 if cell is None else number(cell, len(numbers)))

    def finish() -> Any:
        if not numbers:  # every cell blank: plain blanks, as ReadStat expects them
            return pd.Series([None] * len(codes), dtype=object)
        import numpy as np

        return pd.Series(
            pd.Categorical.from_codes(np.frombuffer(codes, dtype="int32"), list(numbers))
        )

    return append, finish


def _number_column(variable: Variable, fmt: str) -> tuple[Callable[[Any], None], Callable[[], Any]]:
    """Collects a numeric column (codes and dates too) as packed doubles (SPSS
    stores doubles only), with a mask for blanks instead of NaN."""
    import pandas as pd

    values = array("d")
    nan = float("nan")
    add, kind = values.append, variable.kind

    def append(value: Any) -> None:
        cell = _stat_value(kind, value, variable, fmt)
        add(nan if cell is None else cell)

    def finish() -> Any:
        import numpy as np

        numbers = np.frombuffer(values, dtype="float64")
        blank = np.isnan(numbers)
        return pd.Series(pd.arrays.FloatingArray(np.where(blank, 0.0, numbers), blank))

    return append, finish


def write_stat_file(
    path: Path, dataset: Dataset, named: list[NamedVariable], rows: Iterable[Row], fmt: str
) -> int:
    """Write ``dataset`` as .sav (``fmt`` 'spss') or .dta ('stata'); rows written.

    For SPSS, ReadStat writes a whole data frame, so the frame is kept compact:
    columns are collected packed as rows arrive, then turned one by one into pandas extension
    arrays (categories for text, integers or doubles with a mask), which the frame
    takes without consolidating them into copied blocks."""
    if fmt == "stata":
        return write_dta(path, dataset.label, named, rows, datetime.now(UTC))
    # Imported here: pandas and ReadStat double a process's memory, and only
    # SPSS exports need them.
    import pandas as pd
    import pyreadstat

    variables = [n.variable for n in named]
    collectors = [
        _text_column(v, fmt) if v.kind == "string" else _number_column(v, fmt) for v in variables
    ]
    appenders = [append for append, _ in collectors]
    finishers: list[Callable[[], Any] | None] = [finish for _, finish in collectors]
    del collectors
    count = 0
    for row in rows:
        for append, value in zip(appenders, row, strict=True):
            append(value)
        count += 1
    del appenders
    frame: dict[str, Any] = {}
    value_labels: dict[str, dict[Any, str]] = {}
    missing_ranges: dict[str, list[Any]] = {}
    formats: dict[str, str] = {}
    for index, (item, variable) in enumerate(zip(named, variables, strict=True)):
        finish = finishers[index]
        assert finish is not None
        frame[item.name] = finish()
        finishers[index] = finish = None  # the packed column goes as its array comes
        if variable.kind != "string":
            labels = dict(variable.numbered_labels())
            if labels:
                value_labels[item.name] = labels
        if variable.kind == "date":
            formats[item.name] = DATE_FORMATS[fmt]
        if fmt == "spss" and variable.missing_codes:
            if variable.kind == "string":
                missing_ranges[item.name] = [str(n) for n in sorted(MISSING_LABELS)]
            else:
                missing_ranges[item.name] = [float(n) for n in sorted(MISSING_LABELS)]
    data = pd.DataFrame(frame, columns=[n.name for n in named], copy=False)
    column_labels = {n.name: n.file_label or n.variable.label for n in named}
    pyreadstat.write_sav(
        data,
        str(path),
        file_label=dataset.label[:64],
        column_labels=column_labels,
        variable_value_labels=value_labels,
        missing_ranges=missing_ranges,
        variable_format=formats,
    )
    return count


def stata_missing_do(datasets: Iterable[tuple[Dataset, list[NamedVariable]]]) -> str:
    """A do-file turning the missing-data codes -7/-8/-9 into .a/.b/.c."""
    rules = " \\ ".join(
        f"{MISSING_VALUES[code]}=.{letter}" for code, letter in STATA_MISSING.items()
    )
    lines = [
        "* Turns the missing-data codes into Stata's extended missing values:",
        "* "
        + ", ".join(
            f".{letter} = {MISSING_LABELS[MISSING_VALUES[code]]}"
            for code, letter in STATA_MISSING.items()
        ),
        "* Run from the folder holding the .dta files: do missing_codes.do",
        "",
    ]
    for dataset, named in datasets:
        coded = [n.name for n in named if _numeric_with_codes(n.variable)]
        if not coded:
            continue
        lines += [
            f'use "{dataset.name}.dta", clear',
            f"mvdecode {' '.join(coded)}, mv({rules})",
            f'save "{dataset.name}.dta", replace',
            "",
        ]
    return "\n".join(lines)


def _numeric_with_codes(variable: Variable) -> bool:
    return variable.missing_codes and variable.kind != "string"
