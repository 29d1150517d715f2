from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    FetchedValue,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from trialdm.core.audit import Audited
from trialdm.core.models import (
    Base,
    IdMixin,
    SiteScoped,
    SoftDeletable,
    TimestampMixin,
    UTCDateTime,
    Versioned,
)

# Besides category and enrolment date, what a participant's fidelity window and status
# read from their row (see trialdm.contacts.queries).
FIDELITY_WINDOW_COLUMNS = ("arm", "deleted_at", "intervention_start", "status", "withdrawal_date")


class Participant(Audited, SiteScoped, IdMixin, TimestampMixin, SoftDeletable, Versioned, Base):
    """A person in the trial or its qualitative work. No names or contact details."""

    __tablename__ = "participants"
    __audit_collections__ = {"diagnoses": "as_value"}

    @declared_attr.directive
    def __mapper_args__(cls) -> dict:
        # The study ID is drawn inside the INSERT on PostgreSQL (a SQL expression, see
        # participants.operations): RETURNING brings it back, not a SELECT afterwards.
        return {"version_id_col": cls.__table__.c.version_id, "eager_defaults": True}

    __table_args__ = (
        UniqueConstraint("study_id"),
        CheckConstraint("category IN ('service_user', 'psw', 'mhw')", name="category"),
        CheckConstraint("year_of_birth IS NULL OR age IS NULL", name="one_age_form"),
        # Service users enrolled in a date range (whose assessment window is open
        # today), and enrolments by day from the index alone.
        Index(
            "ix_participants_category_enrolment_date", "category", "enrolment_date", "deleted_at"
        ),
        # One site's service users, and its intervention arm with every column of a
        # fidelity window (the site's fidelity from the index alone). Without
        # statistics, SQLite would otherwise prefer the indexes around it and read
        # every site.
        Index(
            "ix_participants_site_code_category_arm",
            "site_code",
            "category",
            "arm",
            "enrolment_date",
            *(name for name in FIDELITY_WINDOW_COLUMNS if name != "arm"),
        ),
        # The intervention arm by enrolment date with every column a fidelity window
        # reads: the people whose window may be open (a status filter) and the whole
        # arm, from the index alone.
        Index(
            "ix_participants_fidelity_window",
            "category",
            "arm",
            "enrolment_date",
            *(name for name in FIDELITY_WINDOW_COLUMNS if name != "arm"),
            "site_code",
        ),
        # Lists paged by number: the live participants' ids in id and in study-ID
        # order, so that an offset walks a narrow index, not the rows.
        Index("ix_participants_deleted_at_id", "deleted_at", "id"),
        Index("ix_participants_deleted_at_study_id", "deleted_at", "study_id", "id"),
        # A site's service users in an enrolment-date range (its assessments due
        # today), and the dashboard's counts by site, enrolment date, status and arm
        # from the index alone.
        Index(
            "ix_participants_category_site_code_enrolment_date",
            "category",
            "site_code",
            "enrolment_date",
            "status",
            "arm",
            "deleted_at",
        ),
    )

    category: Mapped[str] = mapped_column(String(16), index=True)
    # FetchedValue: no DDL; it tells the ORM the server may set the value (the study ID
    # drawn inside the INSERT on PostgreSQL), so that eager_defaults returns it.
    study_id: Mapped[str] = mapped_column(String(32), server_default=FetchedValue())
    gender: Mapped[str | None] = mapped_column(String(16))
    year_of_birth: Mapped[int | None] = mapped_column(Integer)
    age: Mapped[int | None] = mapped_column(Integer)
    marital_status: Mapped[str | None] = mapped_column(String(16))
    occupation: Mapped[str | None] = mapped_column(String(120))
    years_of_illness: Mapped[float | None] = mapped_column(Numeric(5, 1, asdecimal=False))
    years_in_care: Mapped[float | None] = mapped_column(Numeric(5, 1, asdecimal=False))
    # Trial enrolment (service users only)
    enrolment_date: Mapped[date | None] = mapped_column(Date, index=True)
    consent_date: Mapped[date | None] = mapped_column(Date)
    consent_version: Mapped[str | None] = mapped_column(String(32))
    arm: Mapped[str | None] = mapped_column(String(16), index=True)
    status: Mapped[str | None] = mapped_column(String(16), index=True)
    withdrawal_date: Mapped[date | None] = mapped_column(Date)
    withdrawal_reason: Mapped[str | None] = mapped_column(Text)
    # Set when peer support starts before (or without) a first recorded contact
    intervention_start: Mapped[date | None] = mapped_column(Date, index=True)
    # Peer support workers only
    training_completed: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool | None] = mapped_column(Boolean)
    # MHWs and others: professional background
    profession: Mapped[str | None] = mapped_column(String(120))

    diagnoses: Mapped[list[ParticipantDiagnosis]] = relationship(
        cascade="all, delete-orphan",
        order_by="ParticipantDiagnosis.position",
        lazy="selectin",
    )

    @property
    def site(self) -> str:
        return self.site_code

    @property
    def in_trial(self) -> bool:
        return self.category == "service_user" and self.enrolment_date is not None


class ParticipantDiagnosis(Base):
    __audit_exempt__ = "audited as the participant's diagnoses field"
    """One diagnosis of a participant; a table so that summaries can count in SQL."""

    __tablename__ = "participant_diagnoses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    # Codes of any depth (F41.1, 6A20.0) or a study's own word codes, never shortened.
    code: Mapped[str] = mapped_column(String(32), index=True)
    text: Mapped[str | None] = mapped_column(String(200))

    @property
    def as_value(self) -> dict[str, str | None]:
        return {"code": self.code, "text": self.text}


class StudyIdCounter(Base):
    __audit_exempt__ = "allocation bookkeeping; each allocated study ID is audited"
    """Last number handed out per site and category: study IDs are never reused."""

    __tablename__ = "study_id_counters"

    site_code: Mapped[str] = mapped_column(ForeignKey("sites.code"), primary_key=True)
    category: Mapped[str] = mapped_column(String(16), primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


class ParticipantImportJob(SiteScoped, IdMixin, TimestampMixin, Base):
    """A CSV import too large to run inside a web request. The row is the source of
    truth: the task may run twice or die, the row says what happened. The upload is
    kept under UPLOAD_DIR (``file_name``) until the job is done or failed."""

    __tablename__ = "participant_import_jobs"
    __audit_exempt__ = (
        "job bookkeeping; the upload is an audit event and every participant it "
        "creates is audited with source 'import'"
    )
    __table_args__ = (
        CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name="state"),
    )

    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    step: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    # [{"line": 3, "field": "gender", "message": "..."}] when the rows were refused.
    problems: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    requested_by: Mapped[str | None] = mapped_column(String(254))
    # The requester's role when they uploaded, for the audit rows the task writes.
    requested_role: Mapped[str | None] = mapped_column(String(32))
    file_name: Mapped[str] = mapped_column(String(200))
    file_bytes: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer)
    created: Mapped[int] = mapped_column(Integer, default=0)
    first_study_id: Mapped[str | None] = mapped_column(String(32))
    last_study_id: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Lease: a running job whose heartbeat is older than SUMMARY_LEASE_SECONDS
    # belongs to a dead worker and is re-queued by the reconciler.
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
