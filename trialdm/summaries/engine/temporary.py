"""A population computed once per build into a temporary table.

Each statistic of a table is its own statement over the population (the columns
with their additive aggregates, the quartiles, counts by value), so a population
that is itself a heavy statement (the contacts domain's fidelity rule, the
schedule) would be computed once per statement. Those are written once into a
temporary table of the build's connection and read from there.

The table lives in the connection of the build's session, so the build must not
end its transaction between computing and reading (it does not: progress is
written in its own transaction, see :class:`trialdm.core.jobs.JobProgress`), and
it is dropped when the build is done (:func:`drop_temporaries`); a connection
returned to the pool would otherwise keep it.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

from sqlalchemy import Column, MetaData, String, Table, insert, select
from sqlalchemy.sql.sqltypes import NullType

from trialdm.core.scoping import current_scope
from trialdm.summaries.spec import BuildContext, TableSpec

_numbers = itertools.count(1)


def population_of(spec: TableSpec, ctx: BuildContext) -> Any:
    """The spec's population as a FROM clause: a subquery, or the temporary table
    it was written into once in this build when the spec asks for that."""
    if not spec.materialise:
        return spec.population(ctx).subquery("population")
    # The table is the population as this scope sees it: keyed by both.
    key = f"{spec.name}|{current_scope()}"
    found = ctx.temporaries.get(key)
    if found is None:
        found = ctx.temporaries[key] = _materialise(spec.population(ctx), ctx)
    return found.alias("population")


def _materialise(statement: Any, ctx: BuildContext) -> Table:
    shape = statement.subquery()
    # Unique in the process; the pid keeps two workers' names apart on a shared file.
    name = f"summary_population_{os.getpid()}_{next(_numbers)}"
    table = Table(
        name,
        MetaData(),
        *[
            Column(c.name, String() if isinstance(c.type, NullType) else c.type)
            for c in shape.columns
        ],
        prefixes=["TEMPORARY"],
    )
    connection = ctx.session.connection()
    table.create(connection)
    # An INSERT ... SELECT is not a SELECT: the session's scoping listener does not
    # see it, and the ORM's criteria do not reach a SELECT nested in it. The scope is
    # applied to the population's site column instead (every row belongs to a site).
    rows = select(*shape.columns)
    scope = current_scope()
    if not scope.every_site:
        rows = rows.where(shape.c.site.in_(sorted(scope.codes)))
    ctx.session.execute(insert(table).from_select([c.name for c in shape.columns], rows))
    return table


def drop_temporaries(ctx: BuildContext) -> None:
    """Drop the build's temporary tables (the connection goes back to the pool)."""
    connection = ctx.session.connection()
    while ctx.temporaries:
        _, table = ctx.temporaries.popitem()
        table.drop(connection, checkfirst=True)
