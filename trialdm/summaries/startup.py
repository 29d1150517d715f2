"""What a worker prepares at start-up for its summary builds.

SQLAlchemy compiles a statement the first time a process sends it, then finds it in
the engine's statement cache by its shape: a worker's first build compiled some 30
statements a later build finds compiled (at the UPSIDES size most of what the first
build cost over a later one). The largest are the tables' populations, each written
into a temporary table by one ``INSERT ... SELECT``
(:func:`trialdm.core.temporary.materialise`).

At start-up the worker computes every table of a cross-site build once, with each
population's INSERT sent as ``EXPLAIN INSERT ...``: the database only plans it, the
temporary tables stay empty, and the statistics, multi-valued rows and listing read
those empty tables. Nothing is written, and the trial's data is read only joined to
those empty tables, besides the few rows the statements are built from (the
instruments' versions) and a job that does not exist (the job's reads); the charts,
which read the data themselves, are left out. The build's own statements, of the same
shapes, are then found compiled. A prefork worker does this before its children are forked, so
every child, and every child that replaces one, starts with them.

Only the cross-site workbook's statements are prepared (a site's workbook adds its
site criteria: other shapes). Nothing here may stop a worker from starting: a
database not reachable, or not migrated yet, leaves the first build to compile them.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from trialdm.core.models import utcnow
from trialdm.core.scoping import EVERY_SITE, scoped_to
from trialdm.extensions import db

log = logging.getLogger(__name__)


def _planned_only(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> tuple[str, Any]:
    """An INSERT compiled by SQLAlchemy (a population's) is sent as ``EXPLAIN INSERT
    ...``; the temporary tables' DDL (text) and the reads run."""
    if context is not None and context.compiled is not None and context.isinsert:
        return f"EXPLAIN {statement}", parameters
    return statement, parameters


def prepare_summary_builds(app: Flask) -> int:
    """Compile the statements of a cross-site build's tables, and the reads of its
    job, into the engine's statement cache (see the module); the number of tables
    prepared.

    Runs in a transaction of its own that is rolled back (the temporary tables are
    created in it), then closes the engine's connections, so that processes forked
    after this share none."""
    from trialdm.summaries.engine import listing_rows
    from trialdm.summaries.engine.rows import TableEngine
    from trialdm.summaries.models import SummaryJob
    from trialdm.summaries.operations import build_context
    from trialdm.summaries.registry import specs

    written = 0
    with app.app_context():
        engine = db.engine
        try:
            with engine.connect() as connection, scoped_to(EVERY_SITE):
                event.listen(connection, "before_cursor_execute", _planned_only, retval=True)
                reader = Session(bind=connection, autoflush=False)
                try:
                    ctx = build_context(reader, utcnow())
                    for spec in specs().values():
                        result = TableEngine(spec, ctx).compute(chart=False)
                        if result.listing is not None:
                            for _ in listing_rows(result.listing, ctx):
                                pass
                        written += 1
                    for reread in (False, True):  # as build_job reads, then writes its job
                        reader.get(SummaryJob, 0, populate_existing=reread)
                finally:
                    reader.close()
        except SQLAlchemyError as exc:
            log.info("summary statements left to the first build: %s", exc.__class__.__name__)
        except Exception:  # a build would fail the same way, and report it readably
            log.warning("summary statements left to the first build", exc_info=True)
        finally:
            engine.dispose()
    return written
