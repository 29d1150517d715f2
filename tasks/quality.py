"""Data-quality tasks: the nightly dispatcher and the checks of one site. Safe to
repeat: a failure already queried opens nothing (the check key is unique)."""

from __future__ import annotations

from datetime import date

from trialdm.extensions import celery, db
from trialdm.quality import runs


@celery.task(name="trialdm.quality.nightly", bind=True)
def nightly(self) -> int:
    """Queue the checks of every site for its own local day."""
    return len(runs.queue_site_runs(db.session))


@celery.task(name="trialdm.quality.run_site", bind=True)
def run_site(self, site_code: str, local_date: str) -> dict:
    """Run every check at one site; each new failure opens a query."""
    result = runs.run_site(db.session, site_code, date.fromisoformat(local_date))
    return {"failures": result.failures, "opened": result.opened}
