"""Reminder rules of PSW contacts (fidelity: trialdm.contacts.queries).

The three rules read one statement per scan, shared: the fidelity query of the
contacts domain evaluated on the site's local day for the site's participants,
joined to the participant (study ID) and to the last contact. They concern enrolled
intervention-arm service users whose peer support is not finished: fidelity status
not_started, on_track or at_risk (not met, not_met, withdrawn).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Date, Select, and_, func, literal, or_, select
from sqlalchemy.orm import Session

from trialdm.core.errors import N_
from trialdm.reminders.rules import (
    Finding,
    Rule,
    ScanContext,
    as_date,
    iso_day,
    iso_week,
    register,
    unstored,
)
from trialdm.reminders.texts import later, text

OPEN_STATUSES = ("not_started", "on_track", "at_risk")


def open_support(session: Session, scan: ScanContext) -> tuple[list[Any], Any]:
    """(rows, fidelity rule) for the site's participants with peer support under way:
    participant_id, site_code, study_id, status, contacts_in_window, window_end,
    days_left, last_contact, since (last contact, else intervention start, else
    enrolment)."""
    if "open_support" in scan.shared:
        return scan.shared["open_support"]
    from trialdm.contacts.queries import SITE_PARAM, FidelityRule

    rule = FidelityRule.from_settings(scan.config)
    new_only = _new_only(scan)
    if scan.many is not None:
        # a scan of many sites: computed once for every site, read here by site
        rows = scan.many.rows(
            session,
            "open_support",
            scan.local_date,
            lambda: _open_support_select(
                scan.local_date, rule, per_site=False, new_only=new_only
            ).order_by("site_code", "study_id"),
            "site_code",
            scan.site_code,
        )
    else:
        stmt = _open_support_select(
            scan.local_date, rule, per_site=True, new_only=new_only
        ).order_by("study_id")
        rows = session.execute(stmt, {SITE_PARAM: scan.site_code}).all()
    scan.shared["open_support"] = (rows, rule)
    return rows, rule


def _new_only(scan: ScanContext) -> tuple[tuple[str, ...], int, int, date | None] | None:
    """What the filter to rows with a new reminder depends on (None: every row): the
    active rules of this module, their settings and the digest day."""
    names = scan.new_only_rules(CONTACT_RULES)
    if names is None:
        return None
    config = scan.config
    return (
        names,
        config["REMINDER_WINDOW_CLOSING_DAYS"],
        config["REMINDER_NO_CONTACT_DAYS"],
        scan.digest_day,
    )


@lru_cache(maxsize=32)
def _open_support_select(
    local_date: date,
    rule: Any,
    *,
    per_site: bool,
    new_only: tuple[tuple[str, ...], int, int, date | None] | None = None,
) -> Select:
    """The statement of :func:`open_support`: for one site given when executed (the
    contacts domain's ``SITE_PARAM``; built once per day and rule, not per site), or
    for every site. ``new_only``: only the rows for which an active rule finds a
    reminder not stored yet -- its conditions and dedupe key, said in SQL."""
    from trialdm.contacts.queries import fidelity_subquery
    from trialdm.participants.models import Participant

    # The site filter is applied where the fidelity query reads the participants;
    # its value here is a placeholder replaced by each execution's.
    fid = fidelity_subquery(local_date, rule, site_code="" if per_site else None)
    stmt = (
        select(
            fid.c.participant_id,
            fid.c.site_code,
            Participant.study_id,
            Participant.intervention_start,
            Participant.enrolment_date,
            fid.c.status,
            fid.c.contacts_in_window,
            fid.c.window_end,
            fid.c.days_left,
            # counted with the contacts: no second read of them per participant
            fid.c.last_contact,
        )
        .join(Participant, Participant.id == fid.c.participant_id)
        .where(fid.c.status.in_(OPEN_STATUSES))
    )
    if new_only is None or not new_only[0]:
        return stmt
    names, closing_days, silent_days, digest_day = new_only
    row = stmt.subquery("open_support")
    day = literal(local_date, Date)
    since = func.coalesce(row.c.last_contact, row.c.intervention_start, row.c.enrolment_date)
    wanted = {
        # the conditions of each rule's findings below, with its finding's key
        PswAtRisk.name: and_(
            row.c.status == "at_risk",
            unstored(
                PswAtRisk.name,
                "participant",
                row.c.participant_id,
                iso_week(local_date),
                digest_day,
            ),
        ),
        PswWindowClosing.name: and_(
            row.c.status.in_(("on_track", "at_risk")),
            row.c.contacts_in_window < rule.minimum,
            row.c.window_end >= day,
            row.c.window_end <= literal(local_date + timedelta(days=closing_days), Date),
            unstored(
                PswWindowClosing.name,
                "participant",
                row.c.participant_id,
                literal("window-") + iso_day(row.c.window_end),
                digest_day,
            ),
        ),
        PswNoContact.name: and_(
            since <= literal(local_date - timedelta(days=silent_days), Date),
            unstored(
                PswNoContact.name,
                "participant",
                row.c.participant_id,
                literal("since-") + iso_day(since),
                digest_day,
            ),
        ),
    }
    return select(row).where(or_(*(wanted[name] for name in names)))


def _since(row: Any):
    return as_date(row.last_contact) or row.intervention_start or row.enrolment_date


def _contacts_link(participant_id: int) -> str:
    # the participant's page, with the contact timeline (links are pages: they are
    # mailed and opened by people)
    return f"/participants/{participant_id}#contacts"


@register
class PswAtRisk(Rule):
    """An intervention participant is ``at_risk`` by the fidelity rule (behind a steady
    pace towards the minimum of contacts). Reminded once a week (ISO week of the site's
    day) while it lasts."""

    name = "psw_at_risk"
    label = N_("PSW contacts behind (at risk)")
    settings = ("FIDELITY_MIN_CONTACTS", "INTERVENTION_WINDOW_MONTHS", "FIDELITY_AT_RISK_SLACK")

    def findings(self, session: Session, scan: ScanContext) -> Iterable[Finding]:
        rows, rule = open_support(session, scan)
        week = iso_week(scan.local_date)
        return [
            Finding(
                "participant",
                str(row.participant_id),
                week,
                later(
                    N_("%(study_id)s: PSW contacts behind (%(count)s of %(minimum)s)"),
                    study_id=row.study_id,
                    count=row.contacts_in_window,
                    minimum=rule.minimum,
                ),
                later(
                    N_(
                        "%(study_id)s has %(count)s of %(minimum)s PSW contacts; the window "
                        "closes on %(end)s (%(days)s days left)."
                    ),
                    study_id=row.study_id,
                    count=row.contacts_in_window,
                    minimum=rule.minimum,
                    end=as_date(row.window_end),
                    days=row.days_left,
                ),
                _contacts_link(row.participant_id),
            )
            for row in rows
            if row.status == "at_risk"
        ]


@register
class PswWindowClosing(Rule):
    """The intervention window closes within REMINDER_WINDOW_CLOSING_DAYS days (its last
    day is at most that many days after the site's day, and not before it) and the
    participant has fewer than the minimum of contacts. Once per window."""

    name = "psw_window_closing"
    label = N_("Intervention window closing short of the minimum")
    settings = ("REMINDER_WINDOW_CLOSING_DAYS", "FIDELITY_MIN_CONTACTS")

    def findings(self, session: Session, scan: ScanContext) -> Iterable[Finding]:
        rows, rule = open_support(session, scan)
        horizon = scan.local_date + timedelta(days=scan.config["REMINDER_WINDOW_CLOSING_DAYS"])
        findings = []
        for row in rows:
            end = as_date(row.window_end)
            if (
                row.status in ("on_track", "at_risk")
                and row.contacts_in_window < rule.minimum
                and end is not None
                and scan.local_date <= end <= horizon
            ):
                findings.append(
                    Finding(
                        "participant",
                        str(row.participant_id),
                        f"window-{end.isoformat()}",
                        later(
                            N_("%(study_id)s: intervention window closes %(end)s"),
                            study_id=row.study_id,
                            end=end,
                        ),
                        later(
                            N_(
                                "%(study_id)s has %(count)s of %(minimum)s PSW contacts and "
                                "the intervention window closes on %(end)s."
                            ),
                            study_id=row.study_id,
                            count=row.contacts_in_window,
                            minimum=rule.minimum,
                            end=end,
                        ),
                        _contacts_link(row.participant_id),
                    )
                )
        return findings


@register
class PswNoContact(Rule):
    """No PSW contact for REMINDER_NO_CONTACT_DAYS days or more: counted from the last
    contact, else from the explicit intervention start, else from enrolment (so a
    participant who never had a first contact is found too). Once per silence: a new
    contact starts a new period."""

    name = "psw_no_contact"
    label = N_("No PSW contact for a long time")
    settings = ("REMINDER_NO_CONTACT_DAYS",)

    def findings(self, session: Session, scan: ScanContext) -> Iterable[Finding]:
        rows, _ = open_support(session, scan)
        days = scan.config["REMINDER_NO_CONTACT_DAYS"]
        cutoff = scan.local_date - timedelta(days=days)
        findings = []
        for row in rows:
            since = _since(row)
            if since is None or since > cutoff:
                continue
            last = as_date(row.last_contact)
            what = (
                text(N_("last contact %(day)s"), day=last)
                if last
                else text(N_("no contact since %(day)s"), day=since)
            )
            findings.append(
                Finding(
                    "participant",
                    str(row.participant_id),
                    f"since-{since.isoformat()}",
                    later(
                        N_("%(study_id)s: no PSW contact for %(days)s days"),
                        study_id=row.study_id,
                        days=(scan.local_date - since).days,
                    ),
                    later(
                        N_("%(study_id)s had no PSW contact for %(days)s days or more (%(what)s)."),
                        study_id=row.study_id,
                        days=days,
                        what=what,
                    ),
                    _contacts_link(row.participant_id),
                )
            )
        return findings


CONTACT_RULES = (PswAtRisk.name, PswWindowClosing.name, PswNoContact.name)
