"""Export jobs: ask for an export, build it (idempotently), recover lost builds.

The same life as a summary job (see :mod:`trialdm.summaries.operations`): the
job row is the source of truth, a build claims its job with a conditional
UPDATE (queued, or running with an expired lease) so a message delivered twice
builds once, and :func:`reconcile_jobs` re-queues jobs whose worker died. The
lease and attempt limits are the summary jobs' settings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from flask import current_app
from flask_babel import gettext
from sqlalchemy.orm import Session

from trialdm.core.audit import record_event
from trialdm.core.errors import N_, DomainError, ErrorCollector, Message
from trialdm.core.jobs import FailureTexts, JobProgress, job_file_stem, job_lease
from trialdm.core.jobs import claim_job as claim_lease
from trialdm.core.jobs import reconcile_jobs as reconcile_leases
from trialdm.core.messages import job_language, request_language
from trialdm.core.models import utcnow
from trialdm.core.scoping import EVERY_SITE, SiteScope, scoped_to
from trialdm.core.tasks import enqueue
from trialdm.exports.archive import (
    AUDIT,
    STAT_SUFFIX,
    ArchiveRequest,
    dataset_names,
    load_datasets,
    write_archive,
)
from trialdm.exports.models import FORMATS, ExportJob
from trialdm.exports.statfiles import file_names
from trialdm.sites.queries import get_site, resolve_job_scope

log = logging.getLogger(__name__)
BUILD_TASK = "trialdm.exports.build"


def archive_path(job: ExportJob) -> Path:
    return Path(current_app.config["WORKBOOK_DIR"]) / f"export-{job.id}.zip"


def download_name(job: ExportJob) -> str:
    return f"{job_file_stem(job, 'export', job.format)}.zip"


# ------------------------------------------------------------------ asking


class CreateExportJob:
    """Validate who may export what, in which form, then create and queue the job."""

    def __init__(
        self,
        scope: str,
        export_format: str,
        datasets: Sequence[str] | None,
        labels: str,
        identifiers: str,
        requested_by_id: int | None,
        requested_by: str | None,
    ) -> None:
        self.scope = scope.strip()
        self.format = export_format
        self.datasets = list(datasets) if datasets else None
        self.labels = labels
        self.identifiers = identifiers
        self.requested_by_id = requested_by_id
        self.requested_by = requested_by

    def _check_datasets(self, session: Session, errors: ErrorCollector) -> list[str]:
        if self.format == AUDIT:
            if self.datasets:
                errors.add("datasets", N_("An audit-trail export has no datasets to choose."))
            return [AUDIT]
        known = dataset_names(session)
        if self.datasets is None:
            return known
        for name in self.datasets:
            if name not in known:
                errors.add(
                    "datasets",
                    Message(
                        N_("Unknown dataset '%(name)s'; use %(known)s."),
                        name=name,
                        known=", ".join(known),
                    ),
                )
        if len(set(self.datasets)) != len(self.datasets):
            errors.add("datasets", N_("A dataset is listed twice."))
        return [name for name in known if name in self.datasets]

    def _check_scope(self, session: Session) -> str | None:
        self.scope, site_code = resolve_job_scope(
            session,
            self.scope,
            refusal=N_("Only coordinators may export every site."),
            hint=N_("Ask for your own site's data instead."),
        )
        return site_code

    def validate(self, session: Session) -> str | None:
        site_code = self._check_scope(session)
        errors = ErrorCollector()
        if self.format not in FORMATS:
            errors.add("format", Message(N_("Use one of %(formats)s."), formats=", ".join(FORMATS)))
        if self.labels == "labels" and self.format != "csv":
            errors.add(
                "labels",
                N_(
                    "Labels instead of codes are for CSV only; .sav, .dta, R and ODM files "
                    "carry the codes with their labels."
                ),
            )
        if self.identifiers == "exclude" and self.format == AUDIT:
            errors.add("identifiers", N_("The audit trail is exported whole."))
        names = self._check_datasets(session, errors)
        errors.raise_if_any()
        if self.format != AUDIT:
            # Refused now, not by the worker: instruments whose versions cannot share
            # columns, names a format cannot tell apart.
            for dataset in load_datasets(session, names, utcnow().date()):
                if self.format in STAT_SUFFIX:
                    file_names(dataset, self.format)
        self.datasets = names
        return site_code

    def run(self, session: Session, queue: bool = True) -> ExportJob:
        """Create the job; ``queue`` False when the caller builds it itself (CLI)."""
        site_code = self.validate(session)
        job = ExportJob(
            site_code=site_code,
            scope=self.scope,
            format=self.format,
            datasets=self.datasets,
            labels=self.labels,
            identifiers=self.identifiers,
            state="queued",
            progress=0,
            step="Waiting for a worker",
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
            "export_job",
            job.id,
            site_code=site_code,
            details={
                "scope": job.scope,
                "format": job.format,
                "datasets": job.datasets,
                "labels": job.labels,
                "identifiers": job.identifiers,
            },
        )
        if queue:
            enqueue(session, BUILD_TASK, job.id)
        return job


# ------------------------------------------------------------------ building


def claim_job(session: Session, job_id: int) -> bool:
    """Take the job if it is queued or its last builder's lease has run out, and it
    has attempts left."""
    return claim_lease(session, ExportJob, job_id, job_lease())


readable_error = FailureTexts(
    database="The database could not be read while exporting; please try again.",
    file="The export could not be written ({reason}); please tell the administrators.",
    unexpected="The export stopped with an unexpected error ({error}). "
    "Please try again; the administrators can find the details in the worker log.",
).describe


def job_scope(job: ExportJob) -> SiteScope:
    return EVERY_SITE if job.site_code is None else SiteScope(codes=frozenset({job.site_code}))


def sees_allocation_lists(session: Session, job: ExportJob) -> bool:
    """Whether the export's requester holds, now, a role that may see the allocation
    lists (the statistician's, an admin's): only their exports carry list positions."""
    from trialdm.auth.models import User
    from trialdm.auth.permissions import ROLE_PERMISSIONS

    user = session.get(User, job.requested_by_id) if job.requested_by_id else None
    if user is None or not user.active:
        return False
    return any("randomisation.manage" in ROLE_PERMISSIONS.get(m.role, ()) for m in user.memberships)


def scope_label(session: Session, job: ExportJob) -> str:
    if job.site_code is None:
        return gettext("All sites")
    return get_site(session, job.site_code).label


def build_job(
    session: Session, job_id: int, listener: Callable[[int, str], None] | None = None
) -> str:
    """Build one job's zip; safe to call again for the same job. ``listener`` hears
    each step with the percent done before it (the CLI's progress bar)."""
    if not claim_job(session, job_id):
        log.info("export job %s is not ours to build (done, failed or running)", job_id)
        return "skipped"
    job = session.get(ExportJob, job_id, populate_existing=True)
    assert job is not None
    try:
        read_at = utcnow()
        with job_language(job.language):
            scope = scope_label(session, job)
        request = ArchiveRequest(
            job_id=job.id,
            scope_label=scope,
            export_format=job.format,
            dataset_names=list(job.datasets),
            labels=job.labels,
            identifiers=job.identifiers,
            requested_by=job.requested_by or "unknown",
            read_at=read_at,
            list_positions=sees_allocation_lists(session, job),
        )
        progress = JobProgress(session, ExportJob, job_id, len(job.datasets) + 1, listener)
        with scoped_to(job_scope(job)), job_language(job.language):
            result = write_archive(
                session, archive_path(job), request, progress, f"trialdm {_version()}"
            )
        job = session.get(ExportJob, job_id, populate_existing=True)
        job.state = "done"
        job.progress = 100
        job.step = "Done"
        job.finished_at = utcnow()
        job.heartbeat_at = job.finished_at
        job.data_read_at = read_at
        job.file_name = archive_path(job).name
        job.result = result
        session.commit()
        return "done"
    except Exception as exc:  # every failure becomes a readable state, not a retry loop
        log.exception("export job %s failed", job_id)
        session.rollback()
        job = session.get(ExportJob, job_id, populate_existing=True)
        job.state = "failed"
        job.error = readable_error(exc)
        job.step = "Failed"
        job.finished_at = utcnow()
        session.commit()
        return "failed"


def _version() -> str:
    from trialdm import __version__

    return __version__


# ------------------------------------------------------------------ recovery


def reconcile_jobs(session: Session, now: datetime | None = None) -> list[int]:
    """Re-queue exports whose builder died (lease expired) or whose message was lost;
    give up after SUMMARY_MAX_ATTEMPTS with a readable error."""

    def exhausted(attempts: int) -> str:
        return (
            f"The export was interrupted {attempts} times (the worker stopped); "
            "please ask for it again or tell the administrators."
        )

    return reconcile_leases(session, ExportJob, job_lease(), BUILD_TASK, exhausted, now)


# ------------------------------------------------------------------ command line


def run_export_here(
    scope: str,
    export_format: str,
    datasets: Sequence[str] | None,
    labels: str,
    identifiers: str,
    output: Path,
    listener: Callable[[int, str], None] | None = None,
) -> dict[str, int]:
    """Create an export job and build it in this process (the command line): the
    same job, checks and audit as through the API, then the zip copied to
    ``output``. Returns the rows per dataset; raises a domain error if refused or
    failed, leaving the failed job's readable error on its row."""
    import getpass
    import shutil

    from trialdm.extensions import db

    session = db.session
    try:
        job = CreateExportJob(
            scope,
            export_format,
            datasets,
            labels,
            identifiers,
            None,
            f"command line ({getpass.getuser()})",
        ).run(session, queue=False)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    build_job(session, job.id, listener)
    job = session.get(ExportJob, job.id, populate_existing=True)
    assert job is not None
    if job.state != "done":
        raise DomainError(job.error or f"The export is {job.state}.")
    shutil.copyfile(archive_path(job), output)
    record_event(
        session,
        "download",
        "export_job",
        job.id,
        site_code=job.site_code,
        details={"scope": job.scope, "format": job.format, "file": str(output)},
    )
    session.commit()
    return {name: info["rows"] for name, info in (job.result or {}).items()}
