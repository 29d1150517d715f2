"""Cross-site walk records of the exports domain: a built CSV export of the site."""

from trialdm.core.scoping import SiteScope, scoped_to
from trialdm.exports.operations import CreateExportJob, build_job


def seed(session, site: str, marker: str) -> dict:
    with scoped_to(SiteScope(codes=frozenset({site}))):
        job = CreateExportJob(site, "csv", None, "raw", "include", None, marker).run(session)
    session.info.pop("trialdm_pending_tasks", None)  # built here, not by the queue
    session.commit()
    assert build_job(session, job.id) == "done"
    return {"export_id": job.id}
