"""A checked table file as the engine's :class:`~trialdm.summaries.spec.TableSpec`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Select, func, select

from trialdm.summaries.engine.temporary import written_population
from trialdm.summaries.spec import BuildContext, ListingColumn, ListingSpec, Row, TableSpec
from trialdm.summaries.specfiles import builtins
from trialdm.summaries.specfiles.frame import Frame, band_categories, builtin_population
from trialdm.summaries.specfiles.model import RowDef, TableFile, Variable
from trialdm.summaries.specfiles.templates import LabelTemplate
from trialdm.summaries.vocabulary import code_label

SITE_HEADER = LabelTemplate.parse("{site_name}, {site_country} ({site})")
_ITEM, _SEP = "\x1f", "\x1e"


def fixed_categories(var: Variable) -> tuple[tuple[Any, str], ...]:
    return band_categories(var) if var.source == "band" else var.categories


class _Compiled:
    """What the spec's callables need: the file, and which variables the
    population statement must carry."""

    def __init__(self, table: TableFile) -> None:
        self.table = table
        self.builtin = table.population in builtins.POPULATIONS
        self.single: list[str] = []
        self.multi: dict[str, tuple[Variable, tuple, str | None]] = {}
        # population columns of codes grouped into rows: name -> (variable, groups, other)
        self.grouped: dict[str, tuple[str, tuple, str | None]] = {}
        self.labels = {name: table.label_of(name) for name in table.variables}

    def need(self, name: str) -> str:
        if name not in self.single:
            self.single.append(name)
        return name

    def population(self, ctx: BuildContext) -> Any:
        if self.builtin:
            return builtin_population(self.table)(ctx)
        frame = Frame(self.table, ctx)
        columns = [frame.pid.label("pid")]
        columns += [frame.expression(name).label(name) for name in self.single]
        for name, (of, groups, other) in self.grouped.items():
            columns.append(frame.grouped(of, groups, other).label(name))
        conditions = [frame.condition(n, rule) for n, rule in self.table.where.items()]
        if self.table.unit != "person" or not frame.qualitative:
            return frame.base(*columns, where=conditions)
        # One row per person and column: the first membership of each.
        by = [frame.expression(name) for name in self.table.columns.by]
        rank = func.row_number().over(
            partition_by=[frame.pid, *by], order_by=frame.membership_order
        )
        inner = frame.base(*columns, rank.label("_rank"), where=conditions).subquery("people")
        names = ["pid", *self.single, *self.grouped]
        return select(*[inner.c[n] for n in names]).where(inner.c._rank == 1)

    def multi_source(self, key: str) -> Callable[[BuildContext], Select]:
        var, groups, other = self.multi[key]

        def statement(ctx: BuildContext) -> Select:
            return Frame(self.table, ctx).multi_source(var, groups, other)(ctx)

        return statement

    def value_label(self, var: Variable) -> Callable[[Any, BuildContext], str]:
        labels = self.labels.get(var.name, {})
        if var.vocabulary or (var.multi and var.source == "participant"):
            return lambda value, ctx: labels.get(str(value)) or code_label(value, ctx)
        return lambda value, ctx: labels.get(str(value), str(value))


def _row(compiled: _Compiled, index: int, row: RowDef) -> Row:
    table = compiled.table
    var = table.variables.get(row.variable or "")
    categories: Any = None
    source = None
    if var is not None:
        labels = compiled.labels.get(var.name, {})
        if isinstance(row.categories, str):
            categories = builtins.CATEGORIES[row.categories]
        elif row.categories is not None:
            categories = tuple(
                (v, lbl if lbl is not None else labels.get(str(v), str(v)))
                for v, lbl in row.categories
            )
        elif row.groups:
            categories = tuple((g.label, g.label) for g in row.groups)
        elif fixed_categories(var):
            categories = tuple((v, labels.get(str(v), lbl)) for v, lbl in fixed_categories(var))
        if var.multi:
            groups = tuple((g.label, g.codes) for g in row.groups)
            source = f"{var.name}#{index}" if groups else var.name
            compiled.multi[source] = (var, groups, row.other_label if groups else None)
            if groups and row.other_label:
                categories = (*categories, (row.other_label, row.other_label))
        elif row.groups:
            column = f"{var.name}__rows{index}"
            groups = tuple((g.label, g.codes) for g in row.groups)
            compiled.grouped[column] = (var.name, groups, row.other_label)
            if row.other_label:
                categories = (*categories, (row.other_label, row.other_label))
        else:
            compiled.need(var.name)
    if row.denominator:
        compiled.need(row.denominator)
    return Row(
        label=row.label,
        stat=row.stat,
        variable=None
        if var is None or var.multi
        else (f"{var.name}__rows{index}" if row.groups else var.name),
        categories=categories,
        value_label=compiled.value_label(var) if var is not None else None,
        decimals=row.decimals,
        sd_decimals=row.sd_decimals,
        unit=row.unit,
        missing=row.missing,
        missing_label=row.missing_label,
        other_label=row.other_label,
        source=source,
        denominator=row.denominator,
    )


def _column_labels(compiled: _Compiled) -> Callable[[list[dict[str, Any]]], list]:
    table = compiled.table
    by = table.columns.by
    templates = list(table.columns.headers) or [
        SITE_HEADER if name == "site" else LabelTemplate.parse(f"{{{name}}}") for name in by
    ]

    def labels(heads: list[dict[str, Any]]) -> list[tuple[str | None, str]]:
        out: list[tuple[str | None, str]] = []
        seen: dict[Any, int] = {}
        children: dict[Any, int] = {}
        for head in heads:
            parent_key = head[by[0]] if len(by) > 1 else None
            children[parent_key] = children.get(parent_key, 0) + 1
        for head in heads:
            parent_key = head[by[0]] if len(by) > 1 else None
            seen[parent_key] = seen.get(parent_key, 0) + 1
            if len(by) == 1:
                out.append((None, templates[0].render({**head, "n": seen[None]}, compiled.labels)))
                continue
            parent = templates[0].render(head, compiled.labels)
            label = templates[1].render({**head, "n": seen[parent_key]}, compiled.labels)
            if table.columns.collapse_single and children[parent_key] == 1:
                out.append((None, parent))
            else:
                out.append((parent, label))
        return out

    return labels


def _listing(compiled: _Compiled) -> ListingSpec | None:
    listing = compiled.table.listing
    if listing is None:
        return None
    table = compiled.table
    wanted = [c.variable for c in listing.columns]
    if listing.row_label is not None:
        wanted += [f for f in listing.row_label.fields if f != "n"]
    wanted += list(listing.order_by)
    singles = [v for v in dict.fromkeys(wanted) if not table.variables[v].multi]
    multis = [v for v in dict.fromkeys(wanted) if table.variables[v].multi]
    for name in singles:
        compiled.need(name)
    for name in multis:
        compiled.multi.setdefault(name, (table.variables[name], (), None))
    names = singles + multis

    def query(ctx: BuildContext) -> Select:
        # The population the table's statistics wrote in this build, read again
        # rather than computed again; its statement when it was not written.
        people = written_population(table.name, ctx)
        if people is None:
            people = compiled.population(ctx).subquery("population")
        columns = [people.c[name] for name in singles]
        for name in multis:
            source = compiled.multi_source(name)(ctx).subquery(f"all_{name}")
            item = source.c.value + _ITEM + func.coalesce(source.c.text, "")
            columns.append(
                select(func.aggregate_strings(item, _SEP))
                .where(source.c.pid == people.c.pid)
                .scalar_subquery()
            )
        order = [people.c[name] for name in listing.order_by] or [people.c.pid]
        return select(*columns).order_by(*order, people.c.pid)

    labelled = {name: compiled.value_label(table.variables[name]) for name in names}

    def printed(name: str, value: Any, decimals: int | None, ctx: BuildContext) -> Any:
        if value is None:
            return None
        var = table.variables[name]
        if var.multi:
            shown = []
            for item in str(value).split(_SEP):
                code, _, text = item.partition(_ITEM)
                shown.append(text or labelled[name](code, ctx))
            return "; ".join(sorted(shown))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if decimals is not None:
                number = round(float(value), decimals)
                return int(number) if decimals == 0 else number
            # as recorded: 13, not 13.0 (a decimal column returns floats)
            return int(value) if float(value).is_integer() else value
        if isinstance(value, str):
            return labelled[name](value, ctx)
        return value

    def printer(name: str, decimals: int | None) -> Callable[[Any, BuildContext], Any]:
        """:func:`printed` of one column, its most frequent values (a plain text, int
        or float) taken first; a value of any other type goes through it whole."""
        if table.variables[name].multi:
            return lambda value, ctx: printed(name, value, decimals, ctx)
        label = labelled[name]

        def one(value: Any, ctx: BuildContext) -> Any:
            kind = type(value)
            if kind is str:
                return label(value, ctx)
            if kind is float or kind is int:
                if decimals is not None:
                    number = round(float(value), decimals)
                    return int(number) if decimals == 0 else number
                return int(value) if float(value).is_integer() else value
            return printed(name, value, decimals, ctx)

        return one

    # Per row only what varies: each column's position in the row and its printer
    # are looked up once here, and the row label reads the fields it names.
    position = {name: i for i, name in enumerate(names)}
    cells = [
        (position[column.variable], printer(column.variable, column.decimals))
        for column in listing.columns
    ]
    template = listing.row_label
    label_fields = (
        [(f, position[f]) for f in template.fields if f != "n"] if template is not None else []
    )
    renders: list[Callable[[dict[str, Any]], str]] = []

    def shape(raw: Any, number: int, ctx: BuildContext) -> list[Any]:
        line = []
        if template is not None:
            if number == 1 or not renders:  # a listing's first row: its own labels kept
                renders[:] = [template.renderer(compiled.labels)]
            values = {field: raw[i] for field, i in label_fields}
            values["n"] = number
            line.append(renders[0](values))
        for i, print_value in cells:
            value = raw[i]
            line.append(None if value is None else print_value(value, ctx))
        return line

    kinds = {"number": "number", "date": "date"}
    columns = []
    if listing.row_label is not None:
        columns.append(ListingColumn("label", listing.row_label_header, width=12))
    for column in listing.columns:
        var = table.variables[column.variable]
        columns.append(
            ListingColumn(
                column.variable,
                column.label,
                kind="text" if var.multi else kinds.get(var.kind, "text"),
                decimals=column.decimals,
                width=column.width,
            )
        )
    return ListingSpec(query=query, columns=tuple(columns), shape=shape)


def build_spec(table: TableFile) -> TableSpec:
    compiled = _Compiled(table)
    rows = tuple(_row(compiled, i, row) for i, row in enumerate(table.rows))
    by = table.columns.by
    for name in by:
        compiled.need(name)
    carried: list[str] = []
    for template in table.columns.headers:
        carried += [f for f in template.fields if f not in ("n", *by)]
    if "site" in by and not table.columns.headers:
        carried += ["site_name", "site_country"]
    carried = list(dict.fromkeys(carried))
    for name in carried:
        compiled.need(name)
    if table.columns.order:
        compiled.need(table.columns.order)
    listing = _listing(compiled)
    with_n = table.columns.with_n
    style = table.style
    return TableSpec(
        name=table.name,
        title=table.title,
        population=compiled.population,
        rows=rows,
        group_by=by,
        label_columns=tuple(carried),
        column_labels=_column_labels(compiled) if by else None,
        header_n=(lambda label, n: with_n.render({"label": label, "N": n, "n": n}))
        if with_n
        else None,
        order_by=(table.columns.order,) if table.columns.order else None,
        total=table.columns.total or not by,
        total_label=table.columns.total_label,
        corner=table.corner,
        footnotes=table.footnotes,
        notes=table.notes,
        multi={key: compiled.multi_source(key) for key in compiled.multi},
        pct_decimals=style.percent_decimals,
        pct_sign=style.percent_sign,
        n_pct_cells=style.n_pct_cells,
        percent_of=style.percent_of,
        zero=style.zero,
        missing=style.missing,
        range_separator=style.range_separator,
        n_below_header=style.n_below_header,
        listing=listing,
        chart=builtins.CHARTS[table.chart] if table.chart else None,
        site_column="site" if compiled.builtin else None,
    )
