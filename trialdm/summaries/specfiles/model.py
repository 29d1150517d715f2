"""What a table file says, once read and checked (see ``tables/README.md``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from typing import Any

from trialdm.summaries.specfiles.templates import LabelTemplate

POPULATIONS = ("participants", "qualitative_members")
UNITS = ("member", "person")
PERCENT_OF = ("column", "non_missing")
MISSING_STYLES = ("line", "when_any", "footnote")
VALUE_KINDS = ("text", "number", "date")
AT_DATES = ("enrolment", "session", "read")
VOCABULARIES = ("diagnoses",)


@dataclass(frozen=True)
class Problem:
    file: str
    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.reason}"


class TableFileError(Exception):
    """One or more table files are invalid; none of them is used."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Variable:
    """Where a value comes from. ``source`` is one of participant, member, session,
    site (a stored field), answer (an instrument answer), age, years_since, count,
    band, first_of (derived) or builtin (a column of a named population)."""

    name: str
    source: str
    field: str | None = None
    instrument: str | None = None
    event: str | None = None
    at: str | None = None
    of: tuple[str, ...] = ()
    bands: tuple[tuple[float, float], ...] = ()
    cuts: tuple[float, ...] = ()
    band_labels: tuple[str, ...] = ()
    separator: str = "-"
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    # Fixed categories in print order (value, label); empty: as found.
    categories: tuple[tuple[Any, str], ...] = ()
    multi: bool = False
    kind: str = "text"
    # The coded vocabulary its values come from (labels, groups of codes).
    vocabulary: str | None = None


@dataclass(frozen=True)
class Filter:
    values: tuple[Any, ...] = ()
    between: tuple[Any, Any] | None = None
    recorded: bool | None = None


@dataclass(frozen=True)
class CodeGroup:
    label: str
    codes: tuple[str, ...]  # "F20", "F40-F41" (a range, ends included at any depth)


@dataclass(frozen=True)
class RowDef:
    label: str
    stat: str
    variable: str | None = None
    # (value, label or None: the variable's label), or the name of built-in categories
    categories: tuple[tuple[Any, str | None], ...] | str | None = None
    decimals: int = 1
    sd_decimals: int | None = None
    unit: str = ""
    missing: str | None = None  # None: the table's style
    missing_label: str | None = None
    groups: tuple[CodeGroup, ...] = ()
    other_label: str | None = None
    denominator: str | None = None


@dataclass(frozen=True)
class ColumnsDef:
    by: tuple[str, ...] = ()
    headers: tuple[LabelTemplate, ...] = ()
    total: bool = False
    total_label: str = "Total"
    order: str | None = None
    collapse_single: bool = False
    with_n: LabelTemplate | None = None


@dataclass(frozen=True)
class Style:
    percent_decimals: int = 1
    percent_sign: bool = True
    n_pct_cells: int = 1
    percent_of: str = "column"
    # How a count of zero prints in an n (%) cell ("0", "0 (0)", "–", ""); None: as any count.
    zero: str | None = None
    missing: str = "line"
    range_separator: str = "–"
    n_below_header: bool = True


@dataclass(frozen=True)
class ListingColumnDef:
    label: str
    variable: str
    decimals: int | None = None
    width: int | None = None


@dataclass(frozen=True)
class ListingDef:
    columns: tuple[ListingColumnDef, ...]
    row_label: LabelTemplate | None = None
    row_label_header: str = ""
    order_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableFile:
    name: str
    title: str
    source: str
    population: str
    unit: str = "member"
    keep_empty_sessions: bool = False
    where: dict[str, Filter] = dataclasses.field(default_factory=dict)
    variables: dict[str, Variable] = dataclasses.field(default_factory=dict)
    columns: ColumnsDef = ColumnsDef()
    rows: tuple[RowDef, ...] = ()
    style: Style = Style()
    corner: str = ""
    footnotes: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    listing: ListingDef | None = None
    chart: str | None = None
    labels: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    # Position among the workbook's sheets (then by name).
    order: int = 1000

    def label_of(self, variable: str) -> dict[str, str]:
        """Value labels of a variable: the table's [labels] over the variable's own."""
        found = dict(self.variables[variable].labels) if variable in self.variables else {}
        found.update(self.labels.get(variable, {}))
        return found


def as_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None
