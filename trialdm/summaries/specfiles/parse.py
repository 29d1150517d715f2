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
from trialdm.summaries.specfiles import builtins
from trialdm.summaries.specfiles.catalogue import SOURCES_OF_FIELDS, predeclared, stored
from trialdm.summaries.specfiles.checker import Checker
from trialdm.summaries.specfiles.model import (
    AT_DATES,
    POPULATIONS,
    UNITS,
    VOCABULARIES,
    Filter,
    Problem,
    TableFile,
    TableFileError,
    Variable,
    as_date,
)
from trialdm.summaries.specfiles.sections import (
    parse_columns,
    parse_listing,
    parse_rows,
    parse_style,
)

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
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
    "vocabulary",
}
DERIVED = ("age", "years_since", "count", "band")


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
    check = Checker(source)
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
    columns = parse_columns(check, check.table("columns", data.get("columns")), variables)
    rows = parse_rows(check, data.get("rows"), variables, instruments)
    style = parse_style(check, check.table("style", data.get("style")))
    listing = parse_listing(check, data.get("listing"), variables)
    if style.n_pct_cells == 2 and len(columns.by) > 1:
        check.add("style.n_pct_cells", "two cells need columns.by of one level (n and % under it)")
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


def _labels(check: Checker, where: str, raw: Any) -> dict[str, str]:
    if not isinstance(raw, Mapping) or not all(isinstance(v, str) for v in raw.values()):
        check.add(where, 'must be a table of value = "label"')
        return {}
    return {str(k): v for k, v in raw.items()}


def _variable(
    check: Checker,
    where: str,
    name: str,
    raw: Any,
    population: str,
    instruments: Mapping[str, InstrumentDefinition],
) -> Variable | None:
    var = _variable_source(check, where, name, raw, population, instruments)
    vocabulary = raw.get("vocabulary") if isinstance(raw, Mapping) else None
    if var is None or vocabulary is None:
        return var
    if vocabulary not in VOCABULARIES:
        check.add(f"{where}.vocabulary", f"must be one of {', '.join(VOCABULARIES)}")
    elif var.kind != "text":
        check.add(f"{where}.vocabulary", f"codes are text; '{name}' is {var.kind}")
    return dataclasses.replace(var, vocabulary=vocabulary)


def _variable_source(
    check: Checker,
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
            return Variable(
                name,
                "participant",
                field="diagnoses",
                multi=True,
                labels=labels,
                vocabulary="diagnoses",
            )
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
    if field is not None and field.record_field:
        # the participant record holds the one value of a bound item
        check.add(
            f"{where}.answer",
            f"{ref} is the participant record's {field.record_field}; "
            f'read it as {{ participant = "{field.record_field}" }}',
        )
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


def _check_references(check: Checker, variables: dict[str, Variable]) -> None:
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


def _filter(check: Checker, where: str, raw: Any, var: str, variables) -> Filter:
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
