"""Checks of a table file that need the database's dialect but no data."""

from __future__ import annotations

from datetime import UTC, datetime

from trialdm.summaries.spec import BuildContext, TableSpec
from trialdm.summaries.specfiles.model import Problem, TableFileError


def statements_build(spec: TableSpec, source: str) -> None:
    """Compile the population (and each multi-valued source) for this database,
    so that a file which parses but cannot become SQL is refused before a job runs."""
    from trialdm.extensions import db

    ctx = BuildContext(session=db.session, read_at=datetime.now(UTC))
    statements = [spec.population(ctx), *[source(ctx) for source in spec.multi.values()]]
    if spec.listing is not None:
        statements.append(spec.listing.query(ctx))
    for statement in statements:
        try:
            statement.compile(db.engine)
        except Exception as exc:  # report, do not crash: the file is what is wrong
            problem = Problem(source, "(sql)", f"the SQL cannot be built: {exc}")
            raise TableFileError([problem]) from None
