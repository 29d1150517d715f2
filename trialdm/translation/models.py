"""Study materials and their translations; transcripts and the pseudonymisation key.

A material and its English source versions are trial-wide (every site translates
the same consent form). Everything a site produces is :class:`SiteScoped`, down to
the child rows (steps, segment texts, comments, transcript lines), so that the
central site filter hides another site's work whichever table a query starts from.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from trialdm.core.audit import Audited
from trialdm.core.models import (
    Base,
    IdMixin,
    SiteScoped,
    TimestampMixin,
    UTCDateTime,
    Versioned,
    utcnow,
)

MATERIAL_KINDS = ("topic_guide", "consent_form", "information_sheet", "questionnaire", "other")
STEP_STATES = ("pending", "in_progress", "submitted", "returned", "done")
TRANSLATION_STATES = ("in_progress", "finished", "superseded")
SESSION_KINDS = ("focus_group", "interview")
TRANSCRIPT_STATES = (
    "recorded",
    "transcribed",
    "pseudonymised",
    "translated",
    "checked",
    "approved",
)


# Materials (trial-wide) ---------------------------------------------------------------


class Material(Audited, IdMixin, TimestampMixin, Base):
    """A study material; its English text lives in versions of segments."""

    __tablename__ = "materials"
    __reason_required__ = False
    __table_args__ = (
        CheckConstraint(
            "kind IN ('topic_guide', 'consent_form', 'information_sheet', 'questionnaire',"
            " 'other')",
            name="kind",
        ),
        CheckConstraint(
            "category IN ('local_text', 'study_generated', 'secondary_measure', 'primary_measure')",
            name="category",
        ),
    )

    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    # Proportionate translation: decides the workflow steps (TRANSLATION_WORKFLOWS).
    category: Mapped[str] = mapped_column(String(32))
    # Questionnaires: the instrument whose labels a finished translation provides.
    instrument_name: Mapped[str | None] = mapped_column(String(120), index=True)
    instrument_version: Mapped[str | None] = mapped_column(String(32))
    current_version: Mapped[int] = mapped_column(Integer, default=1)

    versions: Mapped[list[MaterialVersion]] = relationship(
        back_populates="material", order_by="MaterialVersion.number", lazy="selectin"
    )


class MaterialVersion(Audited, IdMixin, Base):
    __tablename__ = "material_versions"
    __reason_required__ = False
    __table_args__ = (UniqueConstraint("material_id", "number"),)

    material_id: Mapped[int] = mapped_column(ForeignKey("materials.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    material: Mapped[Material] = relationship(back_populates="versions")
    segments: Mapped[list[SourceSegment]] = relationship(
        order_by="SourceSegment.position", lazy="selectin", cascade="all, delete-orphan"
    )


class SourceSegment(Audited, Base):
    """One paragraph or question of the English source, keyed so translations line up."""

    __tablename__ = "source_segments"
    __reason_required__ = False
    __table_args__ = (UniqueConstraint("version_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("material_versions.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)


# Translations (per site) --------------------------------------------------------------


class Translation(Audited, SiteScoped, IdMixin, TimestampMixin, Base):
    """A material version translated into one language at one site."""

    __tablename__ = "translations"
    __reason_required__ = False
    __table_args__ = (
        UniqueConstraint("version_id", "site_code", "language"),
        CheckConstraint("state IN ('in_progress', 'finished', 'superseded')", name="state"),
    )

    material_id: Mapped[int] = mapped_column(ForeignKey("materials.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("material_versions.id"), index=True)
    language: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="in_progress")
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The translation of the previous source version this one carried texts over from.
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("translations.id"))

    material: Mapped[Material] = relationship(lazy="joined")
    version: Mapped[MaterialVersion] = relationship(lazy="joined")
    steps: Mapped[list[TranslationStep]] = relationship(
        order_by="TranslationStep.position", lazy="selectin", back_populates="translation"
    )
    segments: Mapped[list[SegmentTranslation]] = relationship(
        order_by="SegmentTranslation.position", lazy="selectin"
    )
    comments: Mapped[list[TranslationComment]] = relationship(
        order_by="TranslationComment.id", lazy="selectin"
    )

    @property
    def site(self) -> str:
        return self.site_code

    @property
    def version_number(self) -> int:
        return self.version.number

    @property
    def current_step(self) -> TranslationStep | None:
        return next((step for step in self.steps if step.state != "done"), None)


class TranslationStep(Audited, SiteScoped, IdMixin, Versioned, Base):
    __tablename__ = "translation_steps"
    __reason_required__ = False
    __table_args__ = (
        UniqueConstraint("translation_id", "position"),
        CheckConstraint(
            "state IN ('pending', 'in_progress', 'submitted', 'returned', 'done')", name="state"
        ),
    )

    translation_id: Mapped[int] = mapped_column(ForeignKey("translations.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    due_date: Mapped[date | None] = mapped_column(Date)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    translation: Mapped[Translation] = relationship(back_populates="steps")


class SegmentTranslation(Audited, SiteScoped, IdMixin, Versioned, Base):
    """The translated text of one source segment; flagged when the source changed."""

    __tablename__ = "segment_translations"
    __reason_required__ = False
    __table_args__ = (UniqueConstraint("translation_id", "key"),)

    translation_id: Mapped[int] = mapped_column(ForeignKey("translations.id"), index=True)
    key: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text)
    back_translation: Mapped[str | None] = mapped_column(Text)
    needs_update: Mapped[bool] = mapped_column(default=False)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class TranslationComment(Audited, SiteScoped, IdMixin, Base):
    __tablename__ = "translation_comments"
    __reason_required__ = False

    translation_id: Mapped[int] = mapped_column(ForeignKey("translations.id"), index=True)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("translation_steps.id"))
    # None: about the whole translation
    segment_key: Mapped[str | None] = mapped_column(String(200))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# Transcripts (per site) ---------------------------------------------------------------


class Transcript(Audited, SiteScoped, IdMixin, TimestampMixin, Versioned, Base):
    """The text of one focus group or interview, from recording to checked English."""

    __tablename__ = "transcripts"
    __reason_required__ = False
    # The verbatim text and the replacement report name people: never in the audit trail.
    __audit_exclude__ = frozenset(
        {"created_at", "updated_at", "version_id", "verbatim_text", "pseudonymisation_report"}
    )
    __table_args__ = (
        CheckConstraint(
            "state IN ('recorded', 'transcribed', 'pseudonymised', 'translated', 'checked',"
            " 'approved')",
            name="state",
        ),
        CheckConstraint("session_kind IN ('focus_group', 'interview')", name="session_kind"),
    )

    session_kind: Mapped[str] = mapped_column(String(16))
    # The focus group or interview (qualitative domain) this transcript is of.
    session_id: Mapped[int] = mapped_column(ForeignKey("qualitative_sessions.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(16))
    recorded_on: Mapped[date | None] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16), default="recorded")
    verbatim_text: Mapped[str | None] = mapped_column(Text)
    verbatim_deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    transcribed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    pseudonymised_text: Mapped[str | None] = mapped_column(Text)
    pseudonymisation_report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    pseudonymised_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    english_text: Mapped[str | None] = mapped_column(Text)
    translated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Check rounds: a return starts a new round, so earlier approvals no longer count.
    check_round: Mapped[int] = mapped_column(Integer, default=1)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    qualitative_session = relationship("QualitativeSession", lazy="joined")
    checks: Mapped[list[TranscriptCheck]] = relationship(
        order_by="TranscriptCheck.id", lazy="selectin"
    )
    lines: Mapped[list[TranscriptLine]] = relationship(
        order_by="TranscriptLine.number", lazy="select"
    )

    @property
    def site(self) -> str:
        return self.site_code


class TranscriptCheck(Audited, SiteScoped, IdMixin, Base):
    """One reviewer's decision on the English translation in one check round."""

    __tablename__ = "transcript_checks"
    __reason_required__ = False
    __table_args__ = (CheckConstraint("decision IN ('approve', 'return')", name="decision"),)

    transcript_id: Mapped[int] = mapped_column(ForeignKey("transcripts.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str] = mapped_column(String(8))
    comments: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TranscriptLine(SiteScoped, Base):
    """A numbered line of an approved English transcript; numbers never change."""

    __tablename__ = "transcript_lines"
    __audit_exempt__ = "written once from the approved English, whose approval is audited"
    __table_args__ = (UniqueConstraint("transcript_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transcript_id: Mapped[int] = mapped_column(ForeignKey("transcripts.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)


class PseudonymKeyEntry(Audited, SiteScoped, IdMixin, TimestampMixin, Versioned, Base):
    """One name or identifier of a site's pseudonymisation key and what replaces it.

    Held apart from the transcripts; only site leads of the site see it. The term is
    kept out of the audit trail, which coordinators can read."""

    __tablename__ = "pseudonym_key_entries"
    __reason_required__ = False
    __audit_exclude__ = frozenset({"created_at", "updated_at", "version_id", "term"})
    __table_args__ = (
        UniqueConstraint("site_code", "term"),
        CheckConstraint(
            "(participant_id IS NULL) <> (placeholder IS NULL)", name="one_replacement"
        ),
    )

    term: Mapped[str] = mapped_column(String(200))
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id"))
    placeholder: Mapped[str | None] = mapped_column(String(64))

    participant = relationship("Participant", lazy="joined")

    @property
    def replacement(self) -> str:
        if self.participant is not None:
            return self.participant.study_id
        return self.placeholder or ""
