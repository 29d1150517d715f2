"""Cross-site walk records of the summaries domain: a built job of the site."""

from tasks.summaries import run_build
from trialdm.core.scoping import SiteScope, scoped_to
from trialdm.summaries.operations import CreateSummaryJob


def seed(session, site: str, marker: str) -> dict:
    with scoped_to(SiteScope(codes=frozenset({site}))):
        job = CreateSummaryJob(site, None, None, marker).run(session)
    session.info.pop("trialdm_pending_tasks", None)  # built here, not by the queue
    session.commit()
    run_build(session, job.id)
    return {"job_id": job.id, "name": "baseline_characteristics"}
