"""A population computed once per build into a temporary table.

Each statistic of a table is its own statement over the population (the columns
with their additive aggregates, the quartiles, counts by value), so a population
that is itself a heavy statement (the contacts domain's fidelity rule, the
schedule) would be computed once per statement. Those are written once into a
temporary table of the build's connection (:mod:`trialdm.core.temporary`) and read
from there.

The build must not end its transaction between computing and reading (it does not:
progress is written in its own transaction, see :class:`trialdm.core.jobs.JobProgress`),
and the tables are dropped when the build is done (:func:`drop_temporaries`).
"""

from __future__ import annotations

from typing import Any

from trialdm.core import temporary
from trialdm.core.scoping import current_scope
from trialdm.summaries.spec import BuildContext, TableSpec


def population_of(spec: TableSpec, ctx: BuildContext) -> Any:
    """The spec's population as a FROM clause: a subquery, or the temporary table
    it was written into once in this build when the spec asks for that."""
    if not spec.materialise:
        return spec.population(ctx).subquery("population")
    # The table is the population as this scope sees it: keyed by both.
    key = f"{spec.name}|{current_scope()}"
    found = ctx.temporaries.get(key)
    if found is None:
        found = ctx.temporaries[key] = temporary.materialise(
            ctx.session, spec.population(ctx), prefix="summary_population", site_column="site"
        )
    return found.alias("population")


def drop_temporaries(ctx: BuildContext) -> None:
    """Drop the build's temporary tables (the connection goes back to the pool)."""
    tables = list(ctx.temporaries.values())
    ctx.temporaries.clear()
    temporary.drop_temporaries(ctx.session, tables)
