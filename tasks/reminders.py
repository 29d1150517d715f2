"""Reminder tasks: the dispatcher beat runs, the per-site scan, delivery and sending.
Each is safe to repeat; the reminder, scan and outbox tables are the source of truth."""

from __future__ import annotations

import logging
from datetime import date

from trialdm.core.tasks import enqueue
from trialdm.extensions import celery, db
from trialdm.reminders import operations

log = logging.getLogger(__name__)


@celery.task(name="trialdm.reminders.dispatch", bind=True)
def dispatch(self) -> dict:
    """Queue the scans due now (per site time zone), deliveries, digests and e-mails."""
    report = operations.dispatch(db.session)
    return {"scans": len(report.scans), "mails": len(report.mails)}


@celery.task(name="trialdm.reminders.scan_site", bind=True)
def scan_site(self, site_code: str, local_date: str) -> dict:
    """Scan one site for one of its local days; creates and delivers new reminders."""
    result = operations.scan_site(db.session, site_code, date.fromisoformat(local_date))
    return {"found": len(result.planned), "created": result.created}


@celery.task(name="trialdm.reminders.scan_sites", bind=True)
def scan_sites(self, days: list[list[str]]) -> dict:
    """Scan several sites, each for its local day, sharing the statements their rules
    read. If that fails, each site is queued again on its own, so that one site's
    failure does not hold back the reminders of the others."""
    try:
        results = operations.scan_sites(
            db.session, [(code, date.fromisoformat(day)) for code, day in days]
        )
    except Exception:
        log.exception("Scanning %d sites together failed; scanning each alone", len(days))
        db.session.rollback()
        for code, day in days:
            enqueue(db.session, "trialdm.reminders.scan_site", code, day)
        return {"found": None, "created": None, "split": len(days)}
    return {
        "found": sum(len(r.planned) for r in results),
        "created": sum(r.created for r in results),
    }


@celery.task(name="trialdm.reminders.scan_trial", bind=True)
def scan_trial(self, utc_date: str) -> dict:
    """The trial-wide rules (coordinators' weekly digest) for one UTC day."""
    result = operations.scan_site(db.session, None, date.fromisoformat(utc_date))
    return {"found": len(result.planned), "created": result.created}


@celery.task(name="trialdm.reminders.deliver_pending", bind=True)
def deliver_pending(self) -> int:
    """Deliver reminders left pending (normally a scan delivers its own)."""
    return operations.deliver_pending(db.session)


@celery.task(name="trialdm.reminders.send_mail", bind=True)
def send_mail(self, message_id: int) -> str:
    """Send one outbox message once; on a transient failure queue the next try."""
    return _send(message_id)


@celery.task(name="trialdm.reminders.send_mails", bind=True)
def send_mails(self, message_ids: list[int]) -> dict:
    """Send a batch of outbox messages (a delivery queues one task per batch rather
    than one per e-mail), each claimed and committed on its own."""
    outcomes: dict[str, int] = {}
    for message_id in message_ids:
        status = _send(message_id)
        db.session.commit()
        outcomes[status] = outcomes.get(status, 0) + 1
    return outcomes


def _send(message_id: int) -> str:
    claim = operations.claim_message(db.session, message_id)
    if claim is None:
        return "not due or taken"
    # The claim is committed before the SMTP conversation: from here another worker
    # skips this message, and if this one dies the claim lapses after MAIL_LEASE_SECONDS.
    db.session.commit()
    outcome = operations.transmit(db.session, claim)
    if outcome.retry_in is not None and not celery.conf.task_always_eager:
        # Eager runs (tests) leave the next try to the dispatcher's sweep.
        send_mail.apply_async((message_id,), countdown=outcome.retry_in)
    return outcome.status
