"""What a worker prepares at start-up for its summary builds.

A build writes each table's population into a temporary table by one large
``INSERT ... SELECT`` (:func:`trialdm.core.temporary.materialise`). SQLAlchemy
compiles a statement the first time a process sends it and then finds it in the
engine's statement cache by its shape; those six INSERTs were most of what a
worker's first build compiled (about a third of its extra cost over a later build at
the UPSIDES size). The worker sends them once at start-up with ``EXPLAIN`` in front:
the database only plans them (nothing is read or written), and the build's own
INSERTs, of the same shape, are found compiled. The job's row is read once as a build
reads it (a job that does not exist): the first entity the process loads costs the ORM
more than the population statements teach it. A prefork worker does this before its
children are forked, so every child, and every child that replaces one, starts with
them.

Only the cross-site workbook's statements are prepared (a site's workbook adds its
site criteria, another shape). Nothing here may stop a worker from starting: a
database not reachable, or not migrated yet, leaves the first build to compile them.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from trialdm.core import temporary
from trialdm.core.models import utcnow
from trialdm.core.scoping import EVERY_SITE, scoped_to
from trialdm.extensions import db

log = logging.getLogger(__name__)


def _planned_only(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> tuple[str, Any]:
    """An INSERT compiled by SQLAlchemy is sent as ``EXPLAIN INSERT ...``; the
    temporary tables' DDL (text) and the reads the statements are built from run."""
    if context is not None and context.compiled is not None and context.isinsert:
        return f"EXPLAIN {statement}", parameters
    return statement, parameters


def prepare_summary_builds(app: Flask) -> int:
    """Compile the INSERT of every table's population of a cross-site build, and the
    reads of its job, into the engine's statement cache (see the module); the number
    of populations compiled.

    Runs in a transaction of its own that is rolled back (the temporary tables are
    created in it), then closes the engine's connections, so that processes forked
    after this share none."""
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
                    for name, spec in specs().items():
                        temporary.materialise(
                            reader,
                            spec.population(ctx),
                            name=f"summary_{name}",
                            site_column=spec.site_column,
                        )
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
