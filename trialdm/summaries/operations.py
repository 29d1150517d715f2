"""Summary jobs: ask for a workbook, build it (idempotently), recover lost builds.

The job row is the source of truth. A build claims its job with a conditional
UPDATE (queued, or running with an expired lease), so a message delivered twice
builds once; a worker that dies leaves the job ``running`` with an old
heartbeat, and :func:`reconcile_jobs` puts it back in the queue. The task is the
edge: it claims (a short transaction of its own), builds, and commits once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import current_app
from flask_babel import gettext
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from trialdm.core.audit import record_event
from trialdm.core.errors import N_, ErrorCollector, Message
from trialdm.core.jobs import FailureTexts, JobProgress, job_file_stem, job_lease
from trialdm.core.jobs import claim_job as claim_lease
from trialdm.core.jobs import reconcile_jobs as reconcile_leases
from trialdm.core.messages import job_language, request_language
from trialdm.core.models import utcnow
from trialdm.core.scoping import EVERY_SITE, SiteScope, scoped_to
from trialdm.core.sqlite import sized_for_a_job
from trialdm.core.tasks import enqueue
from trialdm.participants.vocabulary import diagnosis_vocabulary
from trialdm.sites.queries import EVERY_SITE_SCOPE, get_site, resolve_job_scope
from trialdm.summaries.models import SummaryJob
from trialdm.summaries.registry import specs, table_names
from trialdm.summaries.spec import BuildContext

if TYPE_CHECKING:
    from trialdm.summaries.engine import TableResult

# The engine and the workbook writer (with openpyxl) are imported by the build's
# functions: the web imports this module to create jobs and name their files, and
# its processes do not build.

log = logging.getLogger(__name__)
BUILD_TASK = "trialdm.summaries.build"
# A build's progress written at most once a second: the steps of a short build
# would cost a transaction each, and nobody polling would see them.
PROGRESS_SECONDS = 1.0


def workbook_path(job: SummaryJob) -> Path:
    return Path(current_app.config["WORKBOOK_DIR"]) / f"summary-{job.id}.xlsx"


def download_name(job: SummaryJob) -> str:
    return f"{job_file_stem(job, 'summaries')}.xlsx"


def document_name(job: SummaryJob, table: str) -> str:
    return f"{job_file_stem(job, table)}.docx"


# ------------------------------------------------------------------ asking


class CreateSummaryJob:
    """Validate who may build which workbook, then create and queue the job."""

    def __init__(
        self,
        scope: str,
        tables: Sequence[str] | None,
        requested_by_id: int | None,
        requested_by: str | None,
        trigger: str = "api",
    ) -> None:
        self.scope = scope.strip()
        self.tables = list(tables) if tables else table_names()
        self.requested_by_id = requested_by_id
        self.requested_by = requested_by
        self.trigger = trigger

    def validate(self, session: Session) -> str | None:
        errors = ErrorCollector()
        known = specs()
        unknown = [name for name in self.tables if name not in known]
        for name in unknown:
            errors.add(
                "tables",
                Message(
                    N_("Unknown table '%(name)s'; use %(table_names)s."),
                    name=name,
                    table_names=", ".join(table_names()),
                ),
            )
        if len(set(self.tables)) != len(self.tables):
            errors.add("tables", N_("A table is listed twice."))
        errors.raise_if_any()
        self.scope, site_code = resolve_job_scope(
            session,
            self.scope,
            refusal=N_("Only coordinators may build the cross-site workbook."),
            hint=N_("Ask for your own site's workbook instead."),
        )
        return site_code

    def run(self, session: Session) -> SummaryJob:
        site_code = self.validate(session)
        job = SummaryJob(
            site_code=site_code,
            scope=self.scope,
            tables=[name for name in table_names() if name in self.tables],
            state="queued",
            progress=0,
            step="Waiting for a worker",
            trigger=self.trigger,
            requested_by_id=self.requested_by_id,
            requested_by=self.requested_by,
            language=request_language(),
            heartbeat_at=utcnow(),
        )
        session.add(job)
        session.flush()
        record_event(
            session,
            "create",
            "summary_job",
            job.id,
            site_code=site_code,
            details={"scope": job.scope, "tables": job.tables, "trigger": job.trigger},
        )
        enqueue(session, BUILD_TASK, job.id)
        return job


def create_nightly_job(session: Session, now: datetime | None = None) -> SummaryJob | None:
    """The nightly cross-site workbook; once per UTC day even if beat fires twice."""
    now = now or utcnow()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    exists = session.scalar(
        select(func.count())
        .select_from(SummaryJob)
        .where(SummaryJob.trigger == "nightly", SummaryJob.created_at >= midnight)
    )
    if exists:
        return None
    with scoped_to(EVERY_SITE):
        return CreateSummaryJob(
            EVERY_SITE_SCOPE, None, None, "Nightly schedule", trigger="nightly"
        ).run(session)


# ------------------------------------------------------------------ building


def claim_job(session: Session, job_id: int) -> bool:
    """Take the job if it is queued or its last builder's lease has run out, and it
    has attempts left."""
    return claim_lease(session, SummaryJob, job_id, job_lease())


readable_error = FailureTexts(
    database="The database could not be read while building the tables; please try again.",
    file="The workbook could not be written ({reason}); please tell the administrators.",
    unexpected="The build stopped with an unexpected error ({error}). "
    "Please try again; the administrators can find the details in the worker log.",
).describe


def build_context(session: Session, read_at: datetime, progress=None) -> BuildContext:
    config = current_app.config
    return BuildContext(
        session=session,
        read_at=read_at,
        suppress_below=config["SUPPRESS_BELOW"],
        diagnosis_vocabulary=diagnosis_vocabulary(config["DIAGNOSIS_VOCABULARY"]),
        progress=progress,
    )


def job_scope(job: SummaryJob) -> SiteScope:
    return EVERY_SITE if job.site_code is None else SiteScope(codes=frozenset({job.site_code}))


def scope_label(session: Session, job: SummaryJob) -> str:
    if job.site_code is None:
        return gettext("All sites (cross-site workbook)")
    return get_site(session, job.site_code).label


def compute_tables(ctx: BuildContext, names: Sequence[str], progress=None) -> list[TableResult]:
    from trialdm.summaries.engine import compute_table

    results = []
    known = specs()
    for name in names:
        if progress is not None:
            progress(f"Computing {name}")
        results.append(compute_table(known[name], ctx))
    return results


def table_json(
    result: TableResult, ctx: BuildContext, listing: list[list[Any]] | None = None
) -> dict[str, Any]:
    """The table as the job stores it; a listing's first rows read here unless
    given (``listing``, as :func:`render_workbook` keeps them)."""
    from trialdm.summaries.engine import listing_rows

    rows = None
    if result.listing is not None:
        rows = listing
        if rows is None:
            rows = list(listing_rows(result.listing, ctx, limit=result.listing.json_limit))
    body = result.as_json(rows)
    if result.listing is not None:
        body["listing"]["truncated"] = result.columns[0].n > len(rows or [])
    return body


@contextmanager
def reading_session(session: Session) -> Iterator[Session]:
    """A session of its own for the build's reads: one snapshot for every table
    (repeatable read on PostgreSQL; SQLite's read transaction is one), its temporary
    tables, and nothing written, so that progress written meanwhile in its own
    transaction and the job's final state never conflict with it. Closing it
    rolls back, which also drops its temporary tables. On SQLite its connection is
    set up for reading whole tables (:func:`~trialdm.core.sqlite.sized_for_a_job`)."""
    bind = session.get_bind()
    if not isinstance(bind, Engine):
        # A session on a connection, as in tests, reads in that connection's transaction.
        reader = Session(bind=bind, autoflush=False)
        try:
            yield reader
        finally:
            reader.close()
        return
    config = current_app.config
    cache_mb, heap_mb = config["SQLITE_JOB_CACHE_MB"], config["SQLITE_JOB_HEAP_MB"]
    with bind.connect() as connection, sized_for_a_job(connection, cache_mb, heap_mb):
        if bind.dialect.name == "postgresql":
            connection.execution_options(isolation_level="REPEATABLE READ")
        reader = Session(bind=connection, autoflush=False)
        try:
            yield reader
        finally:
            reader.close()


def build_job(session: Session, job_id: int) -> None:
    """Build a claimed job's workbook and record it on the job (flushed; the task
    commits). Progress is written in its own short transactions as the build goes;
    the reads happen in :func:`reading_session`. Raises when the build fails (the
    task then records :func:`fail_job`)."""
    from trialdm.summaries import import_openpyxl_without_numpy
    from trialdm.summaries.engine.temporary import drop_temporaries

    import_openpyxl_without_numpy()  # before the workbook writer imports openpyxl
    from trialdm.summaries.workbook import Cover, render_workbook

    with reading_session(session) as reader, scoped_to(EVERY_SITE):
        job = reader.get(SummaryJob, job_id)
        assert job is not None
        path = workbook_path(job)
        known = specs()
        names = [name for name in job.tables if name in known] or table_names()
        progress = JobProgress(
            session,
            SummaryJob,
            job_id,
            steps=2 * len(names) + 1,
            own_transaction=True,
            every=PROGRESS_SECONDS,
        )
        read_at = utcnow()
        ctx = build_context(reader, read_at)
        with job_language(job.language):
            cover = Cover(
                trial=current_app.config["TRIAL_NAME"],
                scope=scope_label(reader, job),
                read_at=read_at,
                requested_by=job.requested_by or "unknown",
                software=f"trialdm {_version()}",
                filters=_filters(job, names),
            )
        with scoped_to(job_scope(job)):
            try:
                results = compute_tables(ctx, names, progress)
                listings: dict[str, list[list[Any]]] = {}
                with job_language(job.language):
                    render_workbook(path, cover, results, ctx, progress, listings)
                tables = {r.name: table_json(r, ctx, listings.get(r.name)) for r in results}
            finally:
                drop_temporaries(ctx)
    job = session.get(SummaryJob, job_id, populate_existing=True)
    assert job is not None
    job.state = "done"
    job.progress = 100
    job.step = "Done"
    job.finished_at = utcnow()
    job.heartbeat_at = job.finished_at
    job.data_read_at = read_at
    job.file_name = path.name
    job.result = tables
    session.flush()


def fail_job(session: Session, job_id: int, exc: BaseException) -> None:
    """Record a failed build with a readable reason (flushed; the task commits)."""
    job = session.get(SummaryJob, job_id, populate_existing=True)
    assert job is not None
    job.state = "failed"
    job.error = readable_error(exc)
    job.step = "Failed"
    job.finished_at = utcnow()
    session.flush()


def _version() -> str:
    from trialdm import __version__

    return __version__


def small_counts_line(k: int) -> str:
    if k <= 1:
        return gettext("not suppressed")
    return gettext(
        "1 to %(below)s people (and statistics of fewer than %(k)s) shown as <%(k)s; cells "
        "that would give them away by subtraction shown as [c]; listings and charts left out",
        below=k - 1,
        k=k,
    )


def _filters(job: SummaryJob, names: Sequence[str]) -> list[tuple[str, str]]:
    k = current_app.config["SUPPRESS_BELOW"]
    return [
        (N_("Tables"), ", ".join(names)),
        (N_("Population"), gettext("Participants not deleted; see each sheet's notes")),
        (N_("Small counts"), small_counts_line(k)),
        (N_("Trigger"), job.trigger),
        (N_("Job"), str(job.id)),
    ]


# ------------------------------------------------------------------ recovery


def reconcile_jobs(session: Session, now: datetime | None = None) -> list[int]:
    """Re-queue jobs whose builder died (lease expired) or whose message was lost;
    give up after SUMMARY_MAX_ATTEMPTS with a readable error."""

    def exhausted(attempts: int) -> str:
        return (
            f"The build was interrupted {attempts} times (the worker stopped); "
            "please ask for the workbook again or tell the administrators."
        )

    return reconcile_leases(session, SummaryJob, job_lease(), BUILD_TASK, exhausted, now)
