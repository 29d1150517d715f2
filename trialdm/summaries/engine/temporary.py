"""The population of a table computed once per computation into a temporary table.

Each statistic of a table is its own statement over the population (the columns
with their additive aggregates, the quartiles, counts by value), so the population
would otherwise be computed, and compiled by the ORM, once per statement: it is
written once into a temporary table of the build's connection
(:mod:`trialdm.core.temporary`) and the statistics read that table, in plain
statements that compile quickly and, the table's object being the same from one
build to the next, are compiled once per process.

The build must not end its transaction between computing and reading (it does not:
progress is written in its own transaction, see :class:`trialdm.core.jobs.JobProgress`),
and the tables are dropped when the build is done (:func:`drop_temporaries`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import TableClause

from trialdm.core import temporary
from trialdm.core.scoping import current_scope
from trialdm.summaries.spec import BuildContext, TableSpec

_aliases: dict[TableClause, Any] = {}


def _alias(table: TableClause) -> Any:
    """The one alias ``population`` of a temporary table: its columns are made once, and
    the statements built over it (:mod:`.reuse`) keep reading the same objects."""
    found = _aliases.get(table)
    if found is None:
        found = _aliases.setdefault(table, table.alias("population"))
    return found


def population_of(spec: TableSpec, ctx: BuildContext) -> Any:
    """The spec's population as a FROM clause: the temporary table it was written
    into once in this build for the current scope."""
    scope = current_scope()
    found = ctx.temporaries.get(spec.name)
    if found is None or found[0] != scope:
        # One table per spec: written again when the same spec is computed in
        # another scope (its rows are the population as that scope sees it).
        table = temporary.materialise(
            ctx.session,
            spec.population(ctx),
            name=f"summary_{spec.name}",
            site_column=spec.site_column,
        )
        found = ctx.temporaries[spec.name] = (scope, table)
    return _alias(found[1])


def written_population(name: str, ctx: BuildContext) -> Any | None:
    """The population of the spec ``name`` as written in this build for the current
    scope (an alias of its temporary table), or None when it was not written."""
    found = ctx.temporaries.get(name)
    if found is None or found[0] != current_scope():
        return None
    return _alias(found[1])


def drop_temporaries(ctx: BuildContext) -> None:
    """Drop the build's temporary tables (the connection goes back to the pool)."""
    tables = [table for _, table in ctx.temporaries.values()]
    ctx.temporaries.clear()
    temporary.drop_temporaries(ctx.session, tables)
