"""Reading a table file: every problem reported with its file, key and reason.

The format is described in ``tables/README.md``. Parsing checks everything that
can be checked without the data: keys, types, statistics, that each variable a
row, column or filter names exists, that an instrument answer names a field of a
known instrument, and that templates name known variables.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trialdm.instruments.definitions import InstrumentDefinition
from trialdm.summaries.spec import STATS
from trialdm.summaries.specfiles import builtins
from trialdm.summaries.specfiles.catalogue import SOURCES_OF_FIELDS, predeclared, stored
from trialdm.summaries.specfiles.model import (
    AT_DATES,
    MISSING_STYLES,
    PERCENT_OF,
    POPULATIONS,
    UNITS,
    CodeGroup,
    ColumnsDef,
    Filter,
    ListingColumnDef,
    ListingDef,
    Problem,
    RowDef,
    Style,
    TableFile,
    TableFileError,
    Variable,
    as_date,
)
from trialdm.summaries.specfiles.templates import LabelTemplate, TemplateProblem

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_CODE_RANGE = re.compile(r"^[A-Za-z0-9.]+(\s*[-–]\s*[A-Za-z0-9.]+)?$")
TOP_KEYS = {
    "order",
    "name",
    "title",
    "corner",
    "population",
    "variables",
    "columns",
    "rows",
    "style",
    "footnotes",
    "notes",
    "listing",
    "chart",
    "labels",
}
POPULATION_KEYS = {"from", "unit", "keep_empty_sessions", "where"}
VARIABLE_KEYS = {
    "participant",
    "member",
    "session",
    "site",
    "answer",
    "event",
    "at",
    "derive",
    "of",
    "bands",
    "cuts",
    "band_labels",
    "separator",
    "labels",
    "first_of",
}
DERIVED = ("age", "years_since", "count", "band")
COLUMN_KEYS = {"by", "headers", "total", "total_label", "order", "collapse_single", "with_n"}
ROW_KEYS = {
    "label",
    "stat",
    "variable",
    "categories",
    "decimals",
    "sd_decimals",
    "unit",
    "missing",
    "missing_label",
    "groups",
    "other_label",
    "denominator",
}
STYLE_KEYS = {
    "percent_decimals",
    "percent_sign",
    "percent_of",
    "zero",
    "missing",
    "range_separator",
    "n_below_header",
}
LISTING_KEYS = {"columns", "row_label", "row_label_header", "order_by"}
CATEGORICAL = ("n_pct", "breakdown", "counts")
NUMERIC = ("count", "share", "mean_sd", "mean_sd_range", "mean_range", "median_iqr", "median_range")


class _Checker:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def add(self, key: str, reason: str) -> None:
        self.problems.append(Problem(self.source, key, reason))

    def unknown_keys(self, where: str, data: Mapping[str, Any], known: set[str]) -> None:
        for key in sorted(set(data) - known):
            self.add(f"{where}.{key}" if where else key, "unknown key")

    def table(self, where: str, value: Any) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.add(where, "must be a table")
            return {}
        return value

    def text(self, where: str, value: Any, required: bool = False, default: str = "") -> str:
        if value is None:
            if required:
                self.add(where, "missing")
            return default
        if not isinstance(value, str) or (required and not value.strip()):
            self.add(where, "must be non-empty text" if required else "must be text")
            return default
        return value

    def texts(self, where: str, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.add(where, "must be a list of text")
            return ()
        return tuple(value)

    def boolean(self, where: str, value: Any, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.add(where, "must be true or false")
            return default
        return value

    def integer(self, where: str, value: Any, default: Any, low: int = 0, high: int = 6) -> Any:
        if value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            self.add(where, f"must be a whole number from {low} to {high}")
            return default
        return value

    def choice(self, where: str, value: Any, options: tuple[str, ...], default: Any) -> Any:
        if value is None:
            return default
        if value not in options:
            self.add(where, f"must be one of {', '.join(repr(o) for o in options)}")
            return default
        return value

    def template(self, where: str, value: Any, known: set[str]) -> LabelTemplate | None:
        if value is None:
            return None
        if not isinstance(value, str):
            self.add(where, "must be text")
            return None
        try:
            template = LabelTemplate.parse(value)
        except TemplateProblem as exc:
            self.add(where, str(exc))
            return None
        for name in template.fields:
            if name not in known:
                self.add(where, f"'{{{name}}}' is not a variable of this table")
        return template


def load_table_file(
    path: Path, instruments: Mapping[str, InstrumentDefinition] | None = None
) -> TableFile:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TableFileError([Problem(path.name, "(file)", f"not valid TOML: {exc}")]) from None
    except OSError as exc:
        raise TableFileError([Problem(path.name, "(file)", f"cannot be read: {exc}")]) from None
    table = parse_table(data, path.name, instruments or {})
    if table.name != path.stem:
        raise TableFileError(
            [Problem(path.name, "name", f"must match the file name ({path.stem})")]
        )
    return table


def parse_table(
    data: Mapping[str, Any], source: str, instruments: Mapping[str, InstrumentDefinition]
) -> TableFile:
    check = _Checker(source)
    check.unknown_keys("", data, TOP_KEYS)
    name = check.text("name", data.get("name"), required=True)
    if name and not _NAME.match(name):
        check.add("name", "lower-case letters, digits and _, starting with a letter")
    title = check.text("title", data.get("title"), required=True)

    pop_raw = data.get("population")
    if isinstance(pop_raw, str):
        pop_raw = {"from": pop_raw}
    population = check.table("population", pop_raw)
    check.unknown_keys("population", population, POPULATION_KEYS)
    kind = population.get("from")
    builtin_columns: dict[str, str] | None = None
    if kind in builtins.POPULATIONS:
        builtin_columns = builtins.POPULATIONS[kind][1]
    elif kind not in POPULATIONS:
        options = [*POPULATIONS, *builtins.POPULATIONS]
        check.add("population.from", f"must be one of {', '.join(options)}")
        kind = "participants"
    unit = check.choice("population.unit", population.get("unit"), UNITS, "member")
    if population.get("unit") is not None and kind != "qualitative_members":
        check.add("population.unit", "only for qualitative_members")
    keep_empty = check.boolean(
        "population.keep_empty_sessions", population.get("keep_empty_sessions"), False
    )

    labels_raw = check.table("labels", data.get("labels"))
    labels: dict[str, dict[str, str]] = {}
    for var, mapping in labels_raw.items():
        labels[var] = _labels(check, f"labels.{var}", mapping)

    if builtin_columns is not None:
        variables = {
            col: Variable(col, "builtin", field=col, kind=k) for col, k in builtin_columns.items()
        }
        if data.get("variables"):
            check.add("variables", f"the population {kind} has fixed columns; none may be added")
    else:
        variables = predeclared(kind)
        declared = check.table("variables", data.get("variables"))
        for var_name, raw in declared.items():
            where = f"variables.{var_name}"
            if not _NAME.match(var_name):
                check.add(where, "a variable name is lower-case letters, digits and _")
                continue
            parsed = _variable(check, where, var_name, raw, kind, instruments)
            if parsed is not None:
                variables[var_name] = parsed
        _check_references(check, variables)
    for var in labels:
        if var not in variables:
            check.add(f"labels.{var}", "not a variable of this table")

    where_raw = check.table("population.where", population.get("where"))
    filters = {
        var: _filter(check, f"population.where.{var}", raw, var, variables)
        for var, raw in where_raw.items()
    }
    columns = _columns(check, check.table("columns", data.get("columns")), variables)
    rows = _rows(check, data.get("rows"), variables, instruments)
    style = _style(check, check.table("style", data.get("style")))
    listing = _listing(check, data.get("listing"), variables)
    chart = data.get("chart")
    if chart is not None and chart not in builtins.CHARTS:
        check.add("chart", f"must be one of {', '.join(builtins.CHARTS)}")
    if check.problems:
        raise TableFileError(check.problems)
    return TableFile(
        name=name,
        title=title,
        source=source,
        population=kind,
        unit=unit,
        keep_empty_sessions=keep_empty,
        where=filters,
        variables=variables,
        columns=columns,
        rows=rows,
        style=style,
        corner=check.text("corner", data.get("corner")),
        footnotes=check.texts("footnotes", data.get("footnotes")),
        notes=check.texts("notes", data.get("notes")),
        listing=listing,
        chart=chart,
        labels=labels,
        order=check.integer("order", data.get("order"), 1000, 0, 100000),
    )


def _labels(check: _Checker, where: str, raw: Any) -> dict[str, str]:
    if not isinstance(raw, Mapping) or not all(isinstance(v, str) for v in raw.values()):
        check.add(where, 'must be a table of value = "label"')
        return {}
    return {str(k): v for k, v in raw.items()}


def _variable(
    check: _Checker,
    where: str,
    name: str,
    raw: Any,
    population: str,
    instruments: Mapping[str, InstrumentDefinition],
) -> Variable | None:
    if not isinstance(raw, Mapping):
        check.add(where, 'must be a table such as { participant = "gender" }')
        return None
    check.unknown_keys(where, raw, VARIABLE_KEYS)
    labels = _labels(check, f"{where}.labels", raw["labels"]) if "labels" in raw else {}
    sources = [key for key in (*SOURCES_OF_FIELDS, "answer", "derive", "first_of") if key in raw]
    if len(sources) != 1:
        check.add(
            where,
            "needs exactly one of participant, member, session, site, answer, derive, first_of",
        )
        return None
    source = sources[0]
    if source in SOURCES_OF_FIELDS:
        field = raw[source]
        if source in ("member", "session") and population != "qualitative_members":
            check.add(f"{where}.{source}", "only in a qualitative_members population")
            return None
        if source == "participant" and field == "diagnoses":
            return Variable(name, "participant", field="diagnoses", multi=True, labels=labels)
        if field not in SOURCES_OF_FIELDS[source]:
            known = ", ".join(SOURCES_OF_FIELDS[source])
            check.add(f"{where}.{source}", f"unknown field {field!r}; use one of {known}")
            return None
        found = stored(name, source, field)
        return Variable(**{**found.__dict__, "labels": {**found.labels, **labels}})
    if source == "first_of":
        of = check.texts(f"{where}.first_of", raw["first_of"])
        if len(of) < 2:
            check.add(f"{where}.first_of", "name at least two variables")
        return Variable(name, "first_of", of=of, labels=labels)
    if source == "answer":
        return _answer(check, where, name, raw, population, instruments, labels)
    derive = raw["derive"]
    if derive not in DERIVED:
        check.add(f"{where}.derive", f"must be one of {', '.join(DERIVED)}")
        return None
    at = raw.get("at")
    of = raw.get("of")
    if derive in ("age", "years_since"):
        default_at = "read" if derive == "years_since" else "enrolment"
        at = check.choice(f"{where}.at", at, AT_DATES, default_at)
        if at == "session" and population != "qualitative_members":
            check.add(f"{where}.at", "'session' only in a qualitative_members population")
    if derive == "age":
        return Variable(name, "age", at=at, kind="number", labels=labels)
    if not isinstance(of, str):
        check.add(f"{where}.of", "name the variable it is derived from")
        return None
    if derive == "years_since":
        return Variable(name, "years_since", of=(of,), at=at, kind="number", labels=labels)
    if derive == "count":
        return Variable(name, "count", of=(of,), kind="number", labels=labels)
    return _band(check, where, name, raw, of, labels)


def _answer(check, where, name, raw, population, instruments, labels) -> Variable | None:
    ref = raw["answer"]
    if not isinstance(ref, str) or ref.count(".") != 1:
        check.add(f"{where}.answer", "must be 'instrument.field'")
        return None
    instrument_name, field_name = ref.split(".")
    instrument = instruments.get(instrument_name)
    if instrument is None:
        check.add(f"{where}.answer", f"unknown instrument {instrument_name!r}")
        return None
    field = next((f for f in instrument.fields if f.name == field_name), None)
    score = next((s for s in instrument.scores if s.name == field_name), None)
    if field is None and score is None:
        check.add(f"{where}.answer", f"{instrument_name} has no field {field_name!r}")
        return None
    event, at = raw.get("event"), raw.get("at")
    if population == "participants":
        if at is not None:
            check.add(f"{where}.at", 'only for qualitative_members (at = "session")')
        if not isinstance(event, str) or not event:
            check.add(f"{where}.event", 'name the event of the answer, e.g. "T0"')
    else:
        if event is not None and at is not None:
            check.add(where, 'give event or at = "session", not both')
        elif at is not None and at != "session":
            check.add(f"{where}.at", 'must be "session"')
        elif event is None and at is None:
            check.add(where, 'give event = "T0" or at = "session"')
    if score is not None or field.type in ("integer", "decimal", "scale"):
        kind = "number"
    elif field.type == "date":
        kind = "date"
    else:
        kind = "text"
    categories: tuple[tuple[Any, str], ...] = ()
    if field is not None and field.choices:
        categories = tuple((c.value, c.label.get("en", str(c.value))) for c in field.choices)
    elif field is not None and field.type == "yes_no":
        categories = (("yes", "Yes"), ("no", "No"))
    return Variable(
        name,
        "answer",
        field=field_name,
        instrument=instrument_name,
        event=event,
        at=at,
        kind=kind,
        multi=field is not None and field.type == "multiple_choice",
        categories=categories,
        labels={**{str(v): lbl for v, lbl in categories}, **labels},
    )


def _band(check, where, name, raw, of, labels) -> Variable | None:
    separator = check.text(f"{where}.separator", raw.get("separator"), default="-")
    bands_raw, cuts_raw = raw.get("bands"), raw.get("cuts")
    if (bands_raw is None) == (cuts_raw is None):
        check.add(where, "a band needs bands = [[25, 30], ...] or cuts = [30, 40, ...]")
        return None
    band_labels = check.texts(f"{where}.band_labels", raw.get("band_labels"))
    numbers = (int, float)
    if bands_raw is not None:
        ok = (
            isinstance(bands_raw, list)
            and bands_raw
            and all(
                isinstance(b, list)
                and len(b) == 2
                and all(isinstance(x, numbers) for x in b)
                and b[0] <= b[1]
                for b in bands_raw
            )
        )
        if ok:
            ok = all(a[1] < b[0] for a, b in itertools.pairwise(bands_raw))
        if not ok:
            check.add(f"{where}.bands", "must be ascending [low, high] pairs that do not overlap")
            return None
        bands = tuple((float(lo), float(hi)) for lo, hi in bands_raw)
        expected = len(bands) + 2
        cuts: tuple[float, ...] = ()
    else:
        ok = (
            isinstance(cuts_raw, list)
            and cuts_raw
            and all(isinstance(c, numbers) for c in cuts_raw)
            and list(cuts_raw) == sorted(set(cuts_raw))
        )
        if not ok:
            check.add(f"{where}.cuts", "must be ascending numbers")
            return None
        cuts, bands = tuple(float(c) for c in cuts_raw), ()
        expected = len(cuts) + 1
    if band_labels and len(band_labels) != expected:
        check.add(
            f"{where}.band_labels",
            f"needs {expected} labels (below, each band, above)"
            if bands
            else f"needs {expected} labels (one per interval)",
        )
    return Variable(
        name,
        "band",
        of=(of,),
        bands=bands,
        cuts=cuts,
        band_labels=band_labels,
        separator=separator,
        labels=labels,
    )


def _check_references(check: _Checker, variables: dict[str, Variable]) -> None:
    for var in list(variables.values()):
        if var.source == "first_of" and all(ref in variables for ref in var.of):
            kinds = {variables[ref].kind for ref in var.of}
            if len(kinds) > 1:
                check.add(f"variables.{var.name}", "the variables are of different kinds")
            else:
                variables[var.name] = dataclasses.replace(var, kind=kinds.pop())
    for var in variables.values():
        where = f"variables.{var.name}"
        for ref in var.of:
            target = variables.get(ref)
            if target is None:
                check.add(where, f"'{ref}' is not a variable of this table")
            elif var.source == "count" and not target.multi:
                check.add(where, f"count needs a variable with several values; '{ref}' has one")
            elif var.source in ("band", "years_since", "first_of") and target.multi:
                check.add(where, f"'{ref}' has several values per person")
            elif var.source == "band" and target.kind != "number":
                check.add(where, f"a band needs a number; '{ref}' is {target.kind}")
            elif var.source == "years_since" and target.kind != "date":
                check.add(where, f"years_since needs a date; '{ref}' is {target.kind}")
            elif ref == var.name:
                check.add(where, "refers to itself")


def _filter(check: _Checker, where: str, raw: Any, var: str, variables) -> Filter:
    if var not in variables:
        check.add(where, "not a variable of this table")
        return Filter()
    if variables[var].multi:
        check.add(where, "a variable with several values cannot filter the population")
        return Filter()
    if isinstance(raw, list):
        return Filter(values=tuple(raw))
    if isinstance(raw, (str, int, float)) and not isinstance(raw, bool):
        return Filter(values=(raw,))
    if isinstance(raw, Mapping):
        check.unknown_keys(where, raw, {"between", "recorded"})
        if "recorded" in raw:
            return Filter(recorded=check.boolean(f"{where}.recorded", raw["recorded"], True))
        between = raw.get("between")
        if isinstance(between, list) and len(between) == 2:
            if variables[var].kind == "date":
                low, high = as_date(between[0]), as_date(between[1])
                if low is None or high is None or low > high:
                    check.add(f"{where}.between", 'two dates, earliest first ("2021-01-31")')
                return Filter(between=(low, high))
            return Filter(between=(between[0], between[1]))
        check.add(f"{where}.between", "must be [low, high]")
        return Filter()
    check.add(where, "a value, a list of values, { between = [a, b] } or { recorded = true }")
    return Filter()


def _columns(check: _Checker, raw: Mapping[str, Any], variables) -> ColumnsDef:
    check.unknown_keys("columns", raw, COLUMN_KEYS)
    by = check.texts("columns.by", raw.get("by"))
    for var in by:
        if var not in variables:
            check.add("columns.by", f"'{var}' is not a variable of this table")
        elif variables[var].multi:
            check.add("columns.by", f"'{var}' has several values per person")
    if len(by) > 2:
        check.add("columns.by", "at most two levels (a header over its columns)")
    known = set(variables) | {"n", "N", "label"}
    headers_raw = raw.get("headers")
    headers: tuple[LabelTemplate, ...] = ()
    if headers_raw is not None:
        if not isinstance(headers_raw, list) or len(headers_raw) != len(by):
            check.add("columns.headers", f"one template per level of columns.by ({len(by)})")
        else:
            found = [
                check.template(f"columns.headers[{i}]", t, known) for i, t in enumerate(headers_raw)
            ]
            headers = tuple(t for t in found if t is not None)
    order = raw.get("order")
    if order is not None and order not in variables:
        check.add("columns.order", f"'{order}' is not a variable of this table")
    return ColumnsDef(
        by=by,
        headers=headers,
        total=check.boolean("columns.total", raw.get("total"), False),
        total_label=check.text("columns.total_label", raw.get("total_label"), default="Total"),
        order=order,
        collapse_single=check.boolean("columns.collapse_single", raw.get("collapse_single"), False),
        with_n=check.template("columns.with_n", raw.get("with_n"), {"label", "N", "n"}),
    )


def _categories(check: _Checker, where: str, raw: Any, var: Variable | None) -> Any:
    if raw is None:
        return None
    if isinstance(raw, str):
        if raw == "fixed":
            if var is None or not var.categories:
                check.add(where, "this variable has no fixed categories")
            return var.categories if var else None
        if raw not in builtins.CATEGORIES:
            check.add(where, f"'fixed', a list, or one of {', '.join(builtins.CATEGORIES)}")
        return raw
    if not isinstance(raw, list):
        check.add(where, "a list of values or of [value, label] pairs")
        return None
    found = []
    for i, item in enumerate(raw):
        if isinstance(item, list) and len(item) == 2 and isinstance(item[1], str):
            found.append((item[0], item[1]))
        elif isinstance(item, (str, int, float)) and not isinstance(item, bool):
            found.append((item, None))  # labelled by the table's labels when built
        else:
            check.add(f"{where}[{i}]", "a value or a [value, label] pair")
    return tuple(found)


def _rows(check: _Checker, raw: Any, variables, instruments) -> tuple[RowDef, ...]:
    if not isinstance(raw, list) or not raw:
        check.add("rows", "at least one [[rows]] table")
        return ()
    rows = []
    for i, item in enumerate(raw):
        where = f"rows[{i}]"
        if not isinstance(item, Mapping):
            check.add(where, "must be a table")
            continue
        check.unknown_keys(where, item, ROW_KEYS)
        label = check.text(f"{where}.label", item.get("label"), required=True)
        stat = item.get("stat")
        if stat not in STATS:
            check.add(f"{where}.stat", f"must be one of {', '.join(STATS)}")
            continue
        var_name = item.get("variable")
        var = variables.get(var_name) if isinstance(var_name, str) else None
        if stat != "n":
            if var is None:
                check.add(f"{where}.variable", "missing or not a variable of this table")
                continue
            if stat == "multi_pct" and not var.multi:
                check.add(f"{where}.stat", "multi_pct needs a variable with several values")
            if stat != "multi_pct" and var.multi:
                check.add(f"{where}.stat", f"'{var_name}' has several values; use multi_pct")
            if stat in NUMERIC and var.kind != "number" and var.source != "builtin":
                check.add(f"{where}.stat", f"{stat} needs a number; '{var_name}' is {var.kind}")
        groups = []
        for j, group in enumerate(item.get("groups") or []):
            gw = f"{where}.groups[{j}]"
            if not isinstance(group, Mapping) or set(group) - {"label", "codes"}:
                check.add(gw, 'must be { label = "...", codes = ["F40-F41", ...] }')
                continue
            codes = check.texts(f"{gw}.codes", group.get("codes"))
            for code in codes:
                if not _CODE_RANGE.match(code):
                    check.add(f"{gw}.codes", f"{code!r} is not a code or a range such as F40-F41")
            if not codes:
                check.add(f"{gw}.codes", "name at least one code or range")
            groups.append(CodeGroup(check.text(f"{gw}.label", group.get("label"), True), codes))
        if groups and stat not in ("multi_pct", "n_pct"):
            check.add(f"{where}.groups", "only for n_pct and multi_pct rows")
        denominator = item.get("denominator")
        if stat == "share" and denominator not in variables:
            check.add(f"{where}.denominator", "a share names the variable of its denominator")
        missing = item.get("missing")
        if isinstance(missing, bool):
            missing = "line" if missing else "none"
        elif missing is not None and missing not in MISSING_STYLES:
            check.add(f"{where}.missing", "true, false, or one of " + ", ".join(MISSING_STYLES))
            missing = None
        rows.append(
            RowDef(
                label=label,
                stat=stat,
                variable=var_name if stat != "n" else None,
                categories=_categories(check, f"{where}.categories", item.get("categories"), var),
                decimals=check.integer(f"{where}.decimals", item.get("decimals"), 1),
                sd_decimals=check.integer(f"{where}.sd_decimals", item.get("sd_decimals"), None),
                unit=check.text(f"{where}.unit", item.get("unit")),
                missing=missing,
                missing_label=item.get("missing_label"),
                groups=tuple(groups),
                other_label=item.get("other_label"),
                denominator=denominator,
            )
        )
    return tuple(rows)


def _style(check: _Checker, raw: Mapping[str, Any]) -> Style:
    check.unknown_keys("style", raw, STYLE_KEYS)
    zero = raw.get("zero")
    if zero is not None and (not isinstance(zero, str) or len(zero) > 12):
        check.add("style.zero", 'the text a zero count prints as, e.g. "0", "–" or ""')
        zero = None
    return Style(
        percent_decimals=check.integer(
            "style.percent_decimals", raw.get("percent_decimals"), 1, 0, 2
        ),
        percent_sign=check.boolean("style.percent_sign", raw.get("percent_sign"), True),
        percent_of=check.choice("style.percent_of", raw.get("percent_of"), PERCENT_OF, "column"),
        zero=zero,
        missing=check.choice("style.missing", raw.get("missing"), MISSING_STYLES, "line"),
        range_separator=check.text(
            "style.range_separator", raw.get("range_separator"), default="–"
        ),
        n_below_header=check.boolean("style.n_below_header", raw.get("n_below_header"), True),
    )


def _listing(check: _Checker, raw: Any, variables) -> ListingDef | None:
    if raw is None:
        return None
    raw = check.table("listing", raw)
    check.unknown_keys("listing", raw, LISTING_KEYS)
    columns = []
    for i, item in enumerate(raw.get("columns") or []):
        where = f"listing.columns[{i}]"
        if not isinstance(item, Mapping) or set(item) - {"label", "variable", "decimals", "width"}:
            check.add(where, 'must be { label = "...", variable = "..." }')
            continue
        var = item.get("variable")
        if var not in variables:
            check.add(f"{where}.variable", "missing or not a variable of this table")
        columns.append(
            ListingColumnDef(
                label=check.text(f"{where}.label", item.get("label"), required=True),
                variable=var,
                decimals=check.integer(f"{where}.decimals", item.get("decimals"), None),
                width=check.integer(f"{where}.width", item.get("width"), None, 1, 100),
            )
        )
    if not columns:
        check.add("listing.columns", "at least one column")
    order_by = check.texts("listing.order_by", raw.get("order_by"))
    for var in order_by:
        if var not in variables or variables[var].multi:
            check.add("listing.order_by", f"'{var}' is not a single-valued variable")
    return ListingDef(
        columns=tuple(columns),
        row_label=check.template("listing.row_label", raw.get("row_label"), set(variables) | {"n"}),
        row_label_header=check.text("listing.row_label_header", raw.get("row_label_header")),
        order_by=order_by,
    )
