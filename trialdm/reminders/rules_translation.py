"""Reminder rules of translations (trialdm.translation.models): one statement per rule
and scan over the site's translation steps or transcripts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from trialdm.core.errors import N_
from trialdm.reminders.rules import Finding, Rule, ScanContext, as_date, register, site_rows
from trialdm.reminders.texts import text


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
        rows = site_rows(
            session,
            scan,
            self.name,
            lambda: (
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
                    TranslationStep.state != "done",
                    TranslationStep.assignee_id.is_not(None),
                    TranslationStep.due_date.is_not(None),
                    TranslationStep.due_date <= horizon,
                    Translation.state == "in_progress",
                )
                .order_by(TranslationStep.due_date, TranslationStep.id)
            ),
            TranslationStep.site_code,
        )
        findings = []
        for row in rows:
            due = as_date(row.due_date)
            overdue = due < scan.local_date
            values = {"kind": row.kind, "title": row.title, "language": row.language, "due": due}
            findings.append(
                Finding(
                    "translation_step",
                    str(row.id),
                    "overdue" if overdue else "due-soon",
                    text(
                        N_(
                            "Translation %(kind)s step of '%(title)s' (%(language)s) "
                            "overdue (%(due)s)"
                        )
                        if overdue
                        else N_(
                            "Translation %(kind)s step of '%(title)s' (%(language)s) due (%(due)s)"
                        ),
                        **values,
                    ),
                    text(
                        N_(
                            "The %(kind)s step of '%(title)s' (%(language)s) was due on %(due)s "
                            "and is not done."
                        )
                        if overdue
                        else N_(
                            "The %(kind)s step of '%(title)s' (%(language)s) is due on %(due)s."
                        ),
                        **values,
                    ),
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
        rows = site_rows(
            session,
            scan,
            self.name,
            lambda: (
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
                        TranscriptCheck.decision == "approve",
                    ),
                )
                .where(Transcript.state == "translated")
                .group_by(
                    Transcript.id,
                    Transcript.title,
                    Transcript.check_round,
                    Transcript.translated_by_id,
                    Transcript.site_code,
                )
                .having(
                    func.count(TranscriptCheck.reviewer_id.distinct()) == 1,
                    func.max(TranscriptCheck.created_at) < before,
                )
                .order_by(Transcript.id)
            ),
            Transcript.site_code,
        )
        return [
            Finding(
                "transcript",
                str(row.id),
                f"round-{row.check_round}",
                text(N_("Transcript '%(title)s' waits for its second check"), title=row.title),
                text(
                    N_(
                        "The English translation of '%(title)s' has one approval (check round "
                        "%(round)s) and has waited more than %(days)s days for a second, "
                        "different reviewer."
                    ),
                    title=row.title,
                    round=row.check_round,
                    days=days,
                ),
                f"/translation/transcripts/{row.id}",
                not_to=tuple(
                    uid for uid in (row.approver_id, row.translated_by_id) if uid is not None
                ),
            )
            for row in rows
        ]
