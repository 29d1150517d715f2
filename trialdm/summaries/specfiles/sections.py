"""Reading the sections of a table file after its variables: columns, rows,
style and listing (see :mod:`.parse`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from trialdm.summaries.spec import STATS
from trialdm.summaries.specfiles import builtins
from trialdm.summaries.specfiles.checker import Checker
from trialdm.summaries.specfiles.model import (
    MISSING_STYLES,
    PERCENT_OF,
    CodeGroup,
    ColumnsDef,
    ListingColumnDef,
    ListingDef,
    RowDef,
    Style,
    Variable,
)
from trialdm.summaries.specfiles.templates import LabelTemplate

_CODE_RANGE = re.compile(r"^[A-Za-z0-9.]+(\s*[-–]\s*[A-Za-z0-9.]+)?$")
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
    "n_pct_cells",
}
LISTING_KEYS = {"columns", "row_label", "row_label_header", "order_by"}
NUMERIC = ("count", "share", "mean_sd", "mean_sd_range", "mean_range", "median_iqr", "median_range")


def parse_columns(check: Checker, raw: Mapping[str, Any], variables) -> ColumnsDef:
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


def _categories(check: Checker, where: str, raw: Any, var: Variable | None) -> Any:
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


def parse_rows(check: Checker, raw: Any, variables, instruments) -> tuple[RowDef, ...]:
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


def parse_style(check: Checker, raw: Mapping[str, Any]) -> Style:
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
        n_pct_cells=check.integer("style.n_pct_cells", raw.get("n_pct_cells"), 1, 1, 2),
    )


def parse_listing(check: Checker, raw: Any, variables) -> ListingDef | None:
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
