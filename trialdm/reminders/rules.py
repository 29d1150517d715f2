"""Reminder rules: each a small named class with its settings and one query per scan.

A rule looks at one site on one site-local day (or, for trial-wide rules, at the
whole trial on one UTC day) and yields :class:`Finding` s. It must be set-based:
at most one SELECT for the whole site, never a query per participant; rules that
read the same domain query share one statement per scan (``ScanContext.shared``). The scan turns a
finding into a reminder whose dedupe key is ``rule:subject_type:subject_id:period``;
the period decides when the same subject earns a new reminder (the same event is
reminded once; an at-risk participant once a week). Texts name participants by
study ID only: they go out by e-mail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from trialdm.core.errors import N_
from trialdm.reminders.models import Reminder

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SITE_TEAM = ("research_worker", "site_lead")
FOUND = "/reminders/found"  # the page the digests link to


@dataclass(frozen=True)
class ScanContext:
    """What a rule evaluates: one site (None: the whole trial) on one day. ``shared``
    holds look-ups several rules of one scan need (read once per scan)."""

    site_code: str | None
    local_date: date
    config: Mapping[str, Any]
    shared: dict[str, Any] = field(default_factory=dict)
    # (site, rule, dedupe key) of what this scan found before the rule runs, not yet
    # stored: the weekly digests, which run last, count it with what is stored.
    planned: list[tuple[str | None, str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Finding:
    subject_type: str
    subject_id: str
    period: str
    title: str
    body: str = ""
    link: str = ""
    # Users who get this one besides the rule's audience (e.g. a step's assignee).
    also_to: tuple[int, ...] = ()
    # Roles at the site who get this one besides the rule's audience (e.g. the site
    # lead when a step is overdue).
    also_roles: tuple[str, ...] = ()
    # Users who never get this one (e.g. the reviewer who already approved).
    not_to: tuple[int, ...] = ()


class Rule:
    """A reminder rule. Subclasses set ``name``, ``label``, ``audience`` (roles at
    the site, or ``coordinator`` for trial-wide rules), ``settings`` (the names in
    :mod:`trialdm.config` it reads) and implement :meth:`findings` with one query."""

    name: ClassVar[str]
    label: ClassVar[str]
    audience: ClassVar[tuple[str, ...]] = SITE_TEAM
    settings: ClassVar[tuple[str, ...]] = ()
    trial_wide: ClassVar[bool] = False

    def findings(self, session: Session, scan: ScanContext) -> Iterable[Finding]:
        raise NotImplementedError

    def dedupe_key(self, finding: Finding) -> str:
        return f"{self.name}:{finding.subject_type}:{finding.subject_id}:{finding.period}"


RULES: dict[str, Rule] = {}


def register(cls: type[Rule]) -> type[Rule]:
    RULES[cls.name] = cls()
    return cls


def active_rules(config: Mapping[str, Any], *, trial_wide: bool) -> list[Rule]:
    """The rules of a scan, the digests last (they count what the others found)."""
    disabled = set(config.get("REMINDER_DISABLED_RULES") or ())
    rules = [
        rule
        for name, rule in RULES.items()
        if name not in disabled and rule.trial_wide == trial_wide
    ]
    return sorted(rules, key=lambda rule: rule.name in DIGEST_RULES)


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def rule_label(name: str) -> str:
    rule = RULES.get(name)
    return rule.label if rule else name


def _is_digest_day(scan: ScanContext) -> bool:
    return WEEKDAYS[scan.local_date.weekday()] == scan.config["REMINDER_DIGEST_WEEKDAY"]


DIGEST_RULES = ("weekly_site_digest", "weekly_trial_digest")


def _base(scan: ScanContext) -> str:
    """The public address the digest's links start with (they are mailed)."""
    return str(scan.config.get("BASE_URL") or "").rstrip("/")


def _week_counts(
    session: Session, scan: ScanContext, site_code: str | None
) -> dict[tuple[str, str], int]:
    """(site, rule) -> reminders found in the seven days ending with the digest day:
    those stored and those this scan has found so far (the same reminder once, by its
    dedupe key, so a repeated scan counts nothing twice). ``site_code`` None: all sites."""
    stmt = select(Reminder.site_code, Reminder.rule, Reminder.dedupe_key).where(
        Reminder.local_date > scan.local_date - timedelta(days=7),
        Reminder.local_date <= scan.local_date,
        Reminder.rule.not_in(DIGEST_RULES),
        Reminder.site_code.is_not(None) if site_code is None else Reminder.site_code == site_code,
    )
    found = {(row.site_code, row.rule, row.dedupe_key) for row in session.execute(stmt)}
    found |= {
        (site, rule, key)
        for site, rule, key in scan.planned
        if rule not in DIGEST_RULES and site is not None and site_code in (None, site)
    }
    counts: dict[tuple[str, str], int] = {}
    for site, rule, _ in sorted(found):
        counts[(site, rule)] = counts.get((site, rule), 0) + 1
    return counts


@register
class WeeklySiteDigest(Rule):
    """Weekly digest for each site lead: the reminders found at the site in the seven
    days ending with the digest day (this scan's included), counted by rule, with a
    link to each rule's list."""

    name = "weekly_site_digest"
    label = N_("Weekly digest (site)")
    audience = ("site_lead",)
    settings = ("REMINDER_DIGEST_WEEKDAY",)

    def findings(self, session: Session, scan: ScanContext) -> Iterable[Finding]:
        if not _is_digest_day(scan):
            return []
        counts = [
            (rule, count)
            for (_, rule), count in _week_counts(session, scan, scan.site_code).items()
        ]
        found = f"{_base(scan)}{FOUND}?site={scan.site_code}"
        lines = [
            f"- {rule_label(rule)}: {count} ({found}&rule={rule})" for rule, count in counts
        ] or ["- nothing was due"]
        week = iso_week(scan.local_date)
        return [
            Finding(
                "site",
                str(scan.site_code),
                week,
                f"Weekly digest {scan.site_code} {week}: {sum(c for _, c in counts)} reminders",
                "Reminders of the seven days up to today:\n" + "\n".join(lines),
                f"{FOUND}?rule={self.name}",
            )
        ]


@register
class WeeklyTrialDigest(Rule):
    """Weekly cross-site digest for coordinators (UTC digest day): the reminders found
    at every site in the seven days ending with the digest day, by site and rule."""

    name = "weekly_trial_digest"
    label = N_("Weekly digest (all sites)")
    audience = ("coordinator",)
    settings = ("REMINDER_DIGEST_WEEKDAY",)
    trial_wide = True

    def findings(self, session: Session, scan: ScanContext) -> Iterable[Finding]:
        if not _is_digest_day(scan):
            return []
        counts = [
            (site, rule, count) for (site, rule), count in _week_counts(session, scan, None).items()
        ]
        lines = [
            f"- {site} {rule_label(rule)}: {count} ({_base(scan)}{FOUND}?site={site}&rule={rule})"
            for site, rule, count in counts
        ] or ["- nothing was due at any site"]
        week = iso_week(scan.local_date)
        return [
            Finding(
                "trial",
                "all",
                week,
                f"Weekly digest, all sites, {week}: {sum(c for *_, c in counts)} reminders",
                "Reminders of the seven days up to today by site:\n" + "\n".join(lines),
                f"{FOUND}?rule={self.name}",
            )
        ]


# --- PSW contacts (fidelity: trialdm.contacts.queries) ----------------------------
#
# The three rules read one statement per scan, shared: the fidelity query of the
# contacts domain evaluated on the site's local day, joined to the participant (study
# ID) and to the last contact. They concern enrolled intervention-arm service users
# whose peer support is not finished: fidelity status not_started, on_track or at_risk
# (not met, not_met, withdrawn).

OPEN_STATUSES = ("not_started", "on_track", "at_risk")


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def open_support(session: Session, scan: ScanContext) -> tuple[list[Any], Any]:
    """(rows, fidelity rule) for the site's participants with peer support under way:
    participant_id, study_id, status, contacts_in_window, window_end, days_left,
    last_contact, since (last contact, else intervention start, else enrolment)."""
    if "open_support" in scan.shared:
        return scan.shared["open_support"]
    from trialdm.contacts.queries import FidelityRule, contacts_subquery, fidelity_subquery
    from trialdm.participants.models import Participant

    rule = FidelityRule.from_settings(scan.config)
    fid = fidelity_subquery(scan.local_date, rule, site_code=scan.site_code)
    contacts = contacts_subquery(scan.local_date, "reminder_contacts")
    last = (
        select(
            contacts.c.participant_id,
            func.max(contacts.c.contact_date).label("last_contact"),
        )
        .group_by(contacts.c.participant_id)
        .subquery("reminder_last_contacts")
    )
    since = func.coalesce(
        last.c.last_contact, Participant.intervention_start, Participant.enrolment_date
    )
    rows = session.execute(
        select(
            fid.c.participant_id,
            Participant.study_id,
            fid.c.status,
            fid.c.contacts_in_window,
            fid.c.window_end,
            fid.c.days_left,
            last.c.last_contact,
            since.label("since"),
        )
        .join(Participant, Participant.id == fid.c.participant_id)
        .outerjoin(last, last.c.participant_id == fid.c.participant_id)
        .where(fid.c.site_code == scan.site_code, fid.c.status.in_(OPEN_STATUSES))
        .order_by(Participant.study_id)
    ).all()
    scan.shared["open_support"] = (rows, rule)
    return rows, rule


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
                f"{row.study_id}: PSW contacts behind ({row.contacts_in_window} of {rule.minimum})",
                f"{row.study_id} has {row.contacts_in_window} of {rule.minimum} PSW contacts; "
                f"the window closes on {_as_date(row.window_end)} ({row.days_left} days left).",
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
            end = _as_date(row.window_end)
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
                        f"{row.study_id}: intervention window closes {end.isoformat()}",
                        f"{row.study_id} has {row.contacts_in_window} of {rule.minimum} PSW "
                        f"contacts and the intervention window closes on {end.isoformat()}.",
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
            since = _as_date(row.since)
            if since is None or since > cutoff:
                continue
            last = _as_date(row.last_contact)
            what = f"last contact {last.isoformat()}" if last else f"no contact since {since}"
            findings.append(
                Finding(
                    "participant",
                    str(row.participant_id),
                    f"since-{since.isoformat()}",
                    f"{row.study_id}: no PSW contact for {(scan.local_date - since).days} days",
                    f"{row.study_id} had no PSW contact for {days} days or more ({what}).",
                    _contacts_link(row.participant_id),
                )
            )
        return findings


# --- assessments (schedule: trialdm.schedule.queries) -------------------------------
#
# The three rules read one statement per scan, shared: the schedule query of the
# schedule domain for the site's participants and events as of the site's day, limited
# to events due or overdue. The subject is a participant's event; each reminder comes
# once per event.


def open_assessments(session: Session, scan: ScanContext) -> list[Any]:
    """Events of the site's participants that are ``due`` or ``overdue`` on the day."""
    if "open_assessments" in scan.shared:
        return scan.shared["open_assessments"]
    from trialdm.instruments.queries import instruments_due_by_event
    from trialdm.schedule.queries import schedule_events, schedule_query

    stmt = schedule_query(
        scan.local_date,
        schedule_events(scan.config),
        scan.config["SCHEDULE_WINDOW_DAYS"],
        instruments_due_by_event(session),
        site=scan.site_code,
    )
    rows = session.execute(stmt.where(stmt.selected_columns.status.in_(("due", "overdue")))).all()
    scan.shared["open_assessments"] = rows
    return rows


def _assessment_finding(row: Any, period: str, title: str, body: str) -> Finding:
    return Finding(
        "assessment",
        f"{row.participant_id}:{row.event}",
        period,
        title,
        body,
        f"/participants/{row.participant_id}#questionnaires",
    )


@register
class AssessmentDue(Rule):
    """An assessment event became due: its window is open (SCHEDULE_WINDOW_DAYS before
    the due date) and it is not completed. Once per participant and event."""

    name = "assessment_due"
    label = N_("Assessment due (window open)")
    settings = ("SCHEDULE_EVENTS", "SCHEDULE_WINDOW_DAYS")

    def findings(self, session: Session, scan: ScanContext) -> Iterable[Finding]:
        rows = open_assessments(session, scan)
        return [
            _assessment_finding(
                row,
                "window-open",
                f"{row.study_id}: {row.event} assessment due by {row.due_date.isoformat()}",
                f"The {row.event} assessment of {row.study_id} can be done from "
                f"{row.window_start.isoformat()}; it is due on {row.due_date.isoformat()} "
                f"and the window closes on {row.window_end.isoformat()}.",
            )
            for row in rows
            if row.status == "due"
        ]


@register
class AssessmentDueSoon(Rule):
    """An open, uncompleted assessment is due within REMINDER_ASSESSMENT_SOON_DAYS days
    (its due date is today or at most that many days ahead). Once per event."""

    name = "assessment_due_soon"
    label = N_("Assessment due within days")
    settings = ("REMINDER_ASSESSMENT_SOON_DAYS", "SCHEDULE_EVENTS", "SCHEDULE_WINDOW_DAYS")

    def findings(self, session: Session, scan: ScanContext) -> Iterable[Finding]:
        horizon = scan.local_date + timedelta(days=scan.config["REMINDER_ASSESSMENT_SOON_DAYS"])
        return [
            _assessment_finding(
                row,
                "due-soon",
                f"{row.study_id}: {row.event} assessment due on {row.due_date.isoformat()}",
                f"The {row.event} assessment of {row.study_id} is due on "
                f"{row.due_date.isoformat()}; the window closes on "
                f"{row.window_end.isoformat()}.",
            )
            for row in open_assessments(session, scan)
            if row.status == "due" and scan.local_date <= _as_date(row.due_date) <= horizon
        ]


@register
class AssessmentOverdue(Rule):
    """An assessment is overdue: past its due date, not completed, the window still open.
    Once per event."""

    name = "assessment_overdue"
    label = N_("Assessment overdue")
    settings = ("SCHEDULE_EVENTS", "SCHEDULE_WINDOW_DAYS")

    def findings(self, session: Session, scan: ScanContext) -> Iterable[Finding]:
        return [
            _assessment_finding(
                row,
                "overdue",
                f"{row.study_id}: {row.event} assessment overdue",
                f"The {row.event} assessment of {row.study_id} was due on "
                f"{row.due_date.isoformat()}; its window closes on "
                f"{row.window_end.isoformat()}.",
            )
            for row in open_assessments(session, scan)
            if row.status == "overdue"
        ]


@register
class SelfReportNotReturned(Rule):
    """A self-report link made SELF_REPORT_REMIND_AFTER_DAYS days ago or more is still
    open (not returned, revoked or expired). Once per link."""

    name = "self_report_not_returned"
    label = "Self-report not yet returned"
    settings = ("SELF_REPORT_REMIND_AFTER_DAYS",)

    def findings(self, session: Session, scan: ScanContext) -> Iterable[Finding]:
        from trialdm.core.models import utcnow
        from trialdm.selfreport.queries import open_links_made_before

        days = scan.config["SELF_REPORT_REMIND_AFTER_DAYS"]
        # Made on or before the site's day `days` ago (the scan runs in the morning).
        made_before = datetime.combine(
            scan.local_date - timedelta(days=days - 1), time.min, tzinfo=UTC
        )
        return [
            Finding(
                "self_report_link",
                str(row.id),
                "not-returned",
                f"{row.study_id}: self-report {row.instrument_name} ({row.event}) not yet returned",
                f"The link made on {row.created_at:%Y-%m-%d} is unanswered; it works until "
                f"{row.expires_at:%Y-%m-%d}. Remind the participant, or make a new link.",
                f"/participants/{row.participant_id}",
            )
            for row in open_links_made_before(session, scan.site_code, made_before, utcnow())
        ]


# --- translations (trialdm.translation.models) --------------------------------------
#
# One statement per rule and scan over the site's translation steps or transcripts.


@register
class TranslationStepDue(Rule):
    """A translation workflow step with an assignee and a due date is not done and is
    due within REMINDER_TRANSLATION_DUE_DAYS days (its due date is today or at most that
    many days ahead) or overdue (past its due date). Goes to the assignee, and to the
    site lead as well once overdue. Once per step and state (due soon, overdue)."""

    name = "translation_step_due"
    label = N_("Translation step due or overdue")
    audience = ()
    settings = ("REMINDER_TRANSLATION_DUE_DAYS",)

    def findings(self, session: Session, scan: ScanContext) -> Iterable[Finding]:
        from trialdm.translation.models import Material, Translation, TranslationStep

        horizon = scan.local_date + timedelta(days=scan.config["REMINDER_TRANSLATION_DUE_DAYS"])
        rows = session.execute(
            select(
                TranslationStep.id,
                TranslationStep.kind,
                TranslationStep.assignee_id,
                TranslationStep.due_date,
                TranslationStep.translation_id,
                Translation.language,
                Material.title,
            )
            .join(Translation, Translation.id == TranslationStep.translation_id)
            .join(Material, Material.id == Translation.material_id)
            .where(
                TranslationStep.site_code == scan.site_code,
                TranslationStep.state != "done",
                TranslationStep.assignee_id.is_not(None),
                TranslationStep.due_date.is_not(None),
                TranslationStep.due_date <= horizon,
                Translation.state == "in_progress",
            )
            .order_by(TranslationStep.due_date, TranslationStep.id)
        ).all()
        findings = []
        for row in rows:
            due = _as_date(row.due_date)
            overdue = due < scan.local_date
            what = f"{row.kind} step of '{row.title}' ({row.language})"
            findings.append(
                Finding(
                    "translation_step",
                    str(row.id),
                    "overdue" if overdue else "due-soon",
                    f"Translation {what} {'overdue' if overdue else 'due'} ({due.isoformat()})",
                    f"The {what} was due on {due.isoformat()} and is not done."
                    if overdue
                    else f"The {what} is due on {due.isoformat()}.",
                    f"/translation/translations/{row.translation_id}",
                    also_to=(row.assignee_id,),
                    also_roles=("site_lead",) if overdue else (),
                )
            )
        return findings


@register
class TranscriptSecondCheck(Rule):
    """A transcript's English translation is being checked (state ``translated``) and
    has exactly one approval in its current check round, given more than
    REMINDER_SECOND_CHECK_DAYS days before the site's day (UTC date of the approval).
    Goes to the site's reviewers except the one who approved and the translator. Once
    per transcript and check round."""

    name = "transcript_second_check"
    label = N_("Transcript waiting for its second check")
    audience = ("reviewer",)
    settings = ("REMINDER_SECOND_CHECK_DAYS",)

    def findings(self, session: Session, scan: ScanContext) -> Iterable[Finding]:
        from trialdm.translation.models import Transcript, TranscriptCheck

        days = scan.config["REMINDER_SECOND_CHECK_DAYS"]
        # Approved on a UTC day at most local_date - days - 1: waiting more than `days`.
        before = datetime.combine(scan.local_date - timedelta(days=days), time.min, UTC)
        approved = TranscriptCheck.decision == "approve"
        rows = session.execute(
            select(
                Transcript.id,
                Transcript.title,
                Transcript.check_round,
                Transcript.translated_by_id,
                func.max(TranscriptCheck.reviewer_id).label("approver_id"),
                func.max(TranscriptCheck.created_at).label("approved_at"),
            )
            .join(
                TranscriptCheck,
                and_(
                    TranscriptCheck.transcript_id == Transcript.id,
                    TranscriptCheck.round == Transcript.check_round,
                    approved,
                ),
            )
            .where(Transcript.site_code == scan.site_code, Transcript.state == "translated")
            .group_by(
                Transcript.id, Transcript.title, Transcript.check_round, Transcript.translated_by_id
            )
            .having(
                func.count(TranscriptCheck.reviewer_id.distinct()) == 1,
                func.max(TranscriptCheck.created_at) < before,
            )
            .order_by(Transcript.id)
        ).all()
        return [
            Finding(
                "transcript",
                str(row.id),
                f"round-{row.check_round}",
                f"Transcript '{row.title}' waits for its second check",
                f"The English translation of '{row.title}' has one approval (check round "
                f"{row.check_round}) and has waited more than {days} days for a second, "
                "different reviewer.",
                f"/translation/transcripts/{row.id}",
                not_to=tuple(
                    uid for uid in (row.approver_id, row.translated_by_id) if uid is not None
                ),
            )
            for row in rows
        ]


# Rules kept in their own modules register themselves on import.
from trialdm.reminders import query_rules  # noqa: E402, F401
