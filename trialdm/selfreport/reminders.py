"""The reminder rule of self-report links, kept with the links it reads: it
registers itself with the reminder rules, so the reminders domain never imports
this one (self-report uses the reminders' outbox to send links)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta

from sqlalchemy.orm import Session

from trialdm.core.errors import N_
from trialdm.core.models import utcnow
from trialdm.reminders.rules import Finding, Rule, ScanContext, register, site_rows
from trialdm.reminders.texts import text
from trialdm.selfreport.models import SelfReportLink
from trialdm.selfreport.queries import open_links_statement


@register
class SelfReportNotReturned(Rule):
    """A self-report link made SELF_REPORT_REMIND_AFTER_DAYS days ago or more is still
    open (not returned, revoked or expired). Once per link."""

    name = "self_report_not_returned"
    label = N_("Self-report not yet returned")
    settings = ("SELF_REPORT_REMIND_AFTER_DAYS",)

    def findings(self, session: Session, scan: ScanContext) -> Iterable[Finding]:
        days = scan.config["SELF_REPORT_REMIND_AFTER_DAYS"]
        # Made on or before the site's day `days` ago (the scan runs in the morning).
        now = utcnow()
        made_before = datetime.combine(
            scan.local_date - timedelta(days=days - 1), time.min, tzinfo=UTC
        )
        return [
            Finding(
                "self_report_link",
                str(row.id),
                "not-returned",
                text(
                    N_("%(study_id)s: self-report %(instrument)s (%(event)s) not yet returned"),
                    study_id=row.study_id,
                    instrument=row.instrument_name,
                    event=row.event,
                ),
                text(
                    N_(
                        "The link made on %(made)s is unanswered; it works until %(until)s. "
                        "Remind the participant, or make a new link."
                    ),
                    made=row.created_at.date(),
                    until=row.expires_at.date(),
                ),
                f"/participants/{row.participant_id}",
            )
            for row in site_rows(
                session,
                scan,
                self.name,
                lambda: open_links_statement(made_before, now),
                SelfReportLink.site_code,
            )
        ]
