"""Tables of the qualitative work: focus-group characteristics (Table 1 of the
UPSIDES mental-health-worker study) and the people in focus groups vs interviews."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import aliased

from trialdm.participants.models import Participant, ParticipantDiagnosis
from trialdm.qualitative.models import QualitativeMember, QualitativeSession
from trialdm.sites.models import Site
from trialdm.summaries.engine import long_date
from trialdm.summaries.spec import BuildContext, Row, TableSpec
from trialdm.summaries.tables import (
    GENDER_ABBREVIATIONS,
    GENDERS,
    STAT_NOTE,
    diagnoses_source,
    diagnosis_label,
)

CATEGORIES = (
    ("service_user", "Service users"),
    ("psw", "Peer support workers"),
    ("mhw", "Mental health workers"),
)
KIND_LABELS = {"focus_group": "Focus groups", "interview": "Interviews"}


def _live_members() -> tuple[Any, ...]:
    return (
        QualitativeSession.deleted_at.is_(None),
        QualitativeMember.removed_at.is_(None),
    )


# ----------------------------------------------------------- focus groups


def _focus_group_population(ctx: BuildContext) -> Any:
    other = aliased(QualitativeSession)
    same_site = (
        other.site_code == QualitativeSession.site_code,
        other.kind == "focus_group",
        other.deleted_at.is_(None),
    )
    groups_at_site = select(func.count(other.id)).where(*same_site).scalar_subquery()
    ordinal = (
        select(func.count(other.id))
        .where(*same_site, other.id <= QualitativeSession.id)
        .scalar_subquery()
    )
    return (
        select(
            QualitativeMember.id.label("pid"),
            QualitativeSession.id.label("focus_group"),
            QualitativeSession.site_code.label("site"),
            Site.name.label("site_name"),
            Site.country.label("site_country"),
            groups_at_site.label("groups_at_site"),
            ordinal.label("ordinal"),
            QualitativeSession.date.label("date"),
            QualitativeSession.duration_min.label("duration"),
            QualitativeSession.location.label("location"),
            QualitativeMember.gender.label("gender"),
            QualitativeMember.age.label("age"),
        )
        .outerjoin(
            QualitativeMember,
            and_(
                QualitativeMember.session_id == QualitativeSession.id,
                QualitativeMember.removed_at.is_(None),
            ),
        )
        .join(Site, Site.code == QualitativeSession.site_code)
        .where(QualitativeSession.kind == "focus_group", QualitativeSession.deleted_at.is_(None))
    )


def _focus_group_column(values: dict[str, Any]) -> tuple[str | None, str]:
    site = f"{values['site_name']}, {values['site_country']} ({values['site']})"
    if (values["groups_at_site"] or 0) > 1:
        return site, f"Focus group {values['ordinal']} ({long_date(values['date'])})"
    return None, site


FOCUS_GROUPS = TableSpec(
    name="focus_group_characteristics",
    title="Characteristics of the focus-group discussions by site",
    population=_focus_group_population,
    group_by=("focus_group",),
    label_columns=("site", "site_name", "site_country", "groups_at_site", "ordinal", "date"),
    column_label=_focus_group_column,
    total=False,
    corner="Study site",
    rows=(
        Row("N (gender)", "breakdown", "gender", categories=GENDER_ABBREVIATIONS),
        Row("Mean age in years (range)", "mean_range", "age", decimals=0, missing=False),
        Row("Date", "value", "date"),
        Row("Duration", "value", "duration", unit=" min"),
        Row("Location", "value", "location"),
    ),
    footnotes=(
        "One column per focus-group discussion, in the order they were recorded; a site "
        "with several discussions has one column for each under the site.",
        "N (gender): members at the discussion; f female, m male, d diverse, ns not stated. "
        "Age: as answered on the members' questionnaire.",
    ),
)

# ----------------------------------------------------------- people by group


def _qualitative_people(ctx: BuildContext) -> Any:
    """One row per person and kind of session: in both kinds, counted in both."""
    taking_part = (
        select(
            QualitativeMember.participant_id.label("participant_id"),
            QualitativeSession.kind.label("kind"),
            func.max(QualitativeMember.age).label("age"),
        )
        .join(QualitativeSession, QualitativeSession.id == QualitativeMember.session_id)
        .where(*_live_members())
        .group_by(QualitativeMember.participant_id, QualitativeSession.kind)
        .subquery("taking_part")
    )
    diagnoses = (
        select(func.count(ParticipantDiagnosis.id))
        .where(ParticipantDiagnosis.participant_id == Participant.id)
        .scalar_subquery()
    )
    recorded_age = func.coalesce(
        taking_part.c.age,
        Participant.age,
        ctx.read_at.year - Participant.year_of_birth,
    )
    return (
        select(
            Participant.id.label("pid"),
            taking_part.c.kind.label("kind"),
            Participant.site_code.label("site"),
            Participant.category.label("category"),
            Participant.gender.label("gender"),
            recorded_age.label("age"),
            diagnoses.label("diagnoses"),
        )
        .join(taking_part, taking_part.c.participant_id == Participant.id)
        .where(Participant.deleted_at.is_(None))
    )


def _kind_column(values: dict[str, Any]) -> tuple[str | None, str]:
    return None, KIND_LABELS.get(values["kind"], values["kind"])


QUALITATIVE_PARTICIPANTS = TableSpec(
    name="qualitative_participants",
    title="People in the qualitative work: focus groups and interviews",
    population=_qualitative_people,
    group_by=("kind",),
    column_label=_kind_column,
    total=False,
    corner="Characteristic",
    rows=(
        Row("N", "n"),
        Row("Age in years, median (range)", "median_range", "age", decimals=0),
        Row("Gender, n (%)", "n_pct", "gender", categories=GENDERS),
        Row("Site, n (%)", "n_pct", "site"),
        Row("Category, n (%)", "n_pct", "category", categories=CATEGORIES),
        Row(
            "Diagnoses, n (%) of people",
            "multi_pct",
            source="diagnoses",
            value_label=diagnosis_label,
        ),
        Row("Number of diagnoses, median (range)", "median_range", "diagnoses", decimals=0),
    ),
    multi={"diagnoses": diagnoses_source},
    footnotes=(
        "A person who took part in focus groups and in interviews is counted in both "
        "columns. Age: as answered at the session, else as recorded for the participant.",
        "Diagnoses: percentages of people, not of diagnoses.",
        STAT_NOTE,
    ),
)
