"""The summary tables trialdm ships, as specs. The names are the API's and the
workbook's sheet names."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import Integer, String, cast, extract, func, literal, select, union_all

from trialdm.participants.models import Participant, ParticipantDiagnosis
from trialdm.participants.vocabulary import MARITAL_STATUSES
from trialdm.screening.models import ScreeningEntry
from trialdm.sites.models import Site
from trialdm.summaries.engine import ChartData, indicator
from trialdm.summaries.spec import Bands, BuildContext, ListingColumn, ListingSpec, Row, TableSpec

GENDERS = (
    ("female", "Female"),
    ("male", "Male"),
    ("diverse", "Diverse"),
    ("not_stated", "Not stated"),
)
GENDER_ABBREVIATIONS = (("female", "f"), ("male", "m"), ("diverse", "d"), ("not_stated", "ns"))
MARITAL = tuple((value, value.replace("_", " ").capitalize()) for value in MARITAL_STATUSES)
ARM_LABELS = {"intervention": "Peer support", "control": "Usual care"}
# The Shanghai study's bands (Table 2); a trial may define its own.
AGE_BANDS = Bands(((25, 30), (31, 35), (36, 40), (41, 45), (46, 50), (51, 55)))

MISSING_NOTE = (
    "Missing: people without a recorded value, shown as their own line and included "
    "in the denominators; percentages are of the people in the column."
)
STAT_NOTE = (
    "SD: sample standard deviation (n-1). Median and IQR: quartiles by linear "
    "interpolation (inclusive method, as Excel QUARTILE.INC)."
)


def site_label(values: dict[str, Any]) -> str:
    return f"{values['site_name']}, {values['site_country']} ({values['site']})"


def age_expression(ctx: BuildContext) -> Any:
    """Recorded age; else age at enrolment (or in the year the data were read) from
    the year of birth."""
    year = func.coalesce(
        cast(extract("year", Participant.enrolment_date), Integer), ctx.read_at.year
    )
    return func.coalesce(Participant.age, year - Participant.year_of_birth)


def service_users(ctx: BuildContext, *columns: Any) -> Any:
    return (
        select(
            Participant.id.label("pid"),
            Participant.site_code.label("site"),
            Site.name.label("site_name"),
            Site.country.label("site_country"),
            *columns,
        )
        .join(Site, Site.code == Participant.site_code)
        .where(Participant.category == "service_user", Participant.deleted_at.is_(None))
    )


def diagnoses_source(ctx: BuildContext) -> Any:
    return select(
        ParticipantDiagnosis.participant_id.label("pid"),
        ParticipantDiagnosis.code.label("value"),
    )


def diagnosis_label(code: str, ctx: BuildContext) -> str:
    return ctx.diagnosis_vocabulary.get(code, code)


# ----------------------------------------------------------------- listing

_DIAGNOSIS_ITEM = "\x1f"
_DIAGNOSIS_SEP = "\x1e"


def _listing_query(ctx: BuildContext) -> Any:
    item = (
        ParticipantDiagnosis.code + _DIAGNOSIS_ITEM + func.coalesce(ParticipantDiagnosis.text, "")
    )
    diagnoses = (
        select(func.aggregate_strings(item, _DIAGNOSIS_SEP))
        .where(ParticipantDiagnosis.participant_id == Participant.id)
        .scalar_subquery()
    )
    return (
        select(
            Participant.study_id,
            Participant.site_code,
            Participant.gender,
            diagnoses,
            AGE_BANDS.expression(age_expression(ctx)),
            Participant.marital_status,
            Participant.occupation,
            Participant.years_in_care,
            Participant.years_of_illness,
        )
        .where(Participant.category == "service_user", Participant.deleted_at.is_(None))
        .order_by(Participant.study_id)
    )


def _diagnosis_text(raw: str | None, ctx: BuildContext) -> str | None:
    """'F20\x1f' -> 'Schizophrenia'; a recorded text wins over the code's label."""
    if not raw:
        return None
    shown = []
    for item in sorted(raw.split(_DIAGNOSIS_SEP)):
        code, _, text = item.partition(_DIAGNOSIS_ITEM)
        shown.append(text or ctx.diagnosis_vocabulary.get(code, code))
    return "; ".join(shown)


def _label(mapping: dict[str, str]):
    return lambda value, ctx: None if value is None else mapping.get(value, value)


LISTING = ListingSpec(
    query=_listing_query,
    columns=(
        ListingColumn("study_id", "Participant", width=14),
        ListingColumn("site", "Site", width=6),
        ListingColumn("gender", "Gender", convert=_label(dict(GENDERS)), width=10),
        ListingColumn("diagnosis", "Diagnosis", convert=_diagnosis_text, width=40),
        ListingColumn("age_band", "Age band", width=9),
        ListingColumn("marital_status", "Marital status", convert=_label(dict(MARITAL)), width=14),
        ListingColumn("occupation", "Occupation", width=22),
        ListingColumn("years_in_care", "Years in care", kind="number", decimals=1, width=13),
        ListingColumn("years_of_illness", "Years of illness", kind="number", decimals=1, width=15),
    ),
)


def _listing_population(ctx: BuildContext) -> Any:
    return service_users(
        ctx,
        Participant.gender.label("gender"),
        age_expression(ctx).label("age"),
        AGE_BANDS.expression(age_expression(ctx)).label("age_band"),
        Participant.marital_status.label("marital_status"),
        Participant.occupation.label("occupation"),
        Participant.years_in_care.label("years_in_care"),
        Participant.years_of_illness.label("years_of_illness"),
    )


PARTICIPANT_LISTING = TableSpec(
    name="participant_listing",
    title="Characteristics of participants (listing with summary)",
    population=_listing_population,
    corner="Characteristic",
    total_label="All participants",
    rows=(
        Row("N", "n"),
        Row("Age in years, mean (SD; range)", "mean_sd_range", "age", decimals=1, sd_decimals=2),
        Row("Gender, n (%)", "n_pct", "gender", categories=GENDERS),
        Row(
            "Diagnosis, n (%) of participants",
            "multi_pct",
            source="diagnoses",
            value_label=diagnosis_label,
        ),
        Row("Age band, n (%)", "n_pct", "age_band", categories=AGE_BANDS.labels()),
        Row("Marital status, n (%)", "n_pct", "marital_status", categories=MARITAL),
        Row("Occupation, n (%)", "n_pct", "occupation"),
        Row(
            "Years in care, mean (SD; range)",
            "mean_sd_range",
            "years_in_care",
            decimals=2,
            sd_decimals=2,
        ),
        Row(
            "Years of illness, mean (SD; range)",
            "mean_sd_range",
            "years_of_illness",
            decimals=2,
            sd_decimals=2,
        ),
    ),
    multi={"diagnoses": diagnoses_source},
    range_separator="-",
    footnotes=(
        "One line per service user; a person may have several diagnoses (percent of people).",
        STAT_NOTE,
        MISSING_NOTE,
    ),
    listing=LISTING,
)

# ----------------------------------------------------------------- baseline


def _baseline_population(ctx: BuildContext) -> Any:
    return service_users(
        ctx,
        Participant.arm.label("arm"),
        Participant.gender.label("gender"),
        age_expression(ctx).label("age"),
        Participant.marital_status.label("marital_status"),
        Participant.occupation.label("occupation"),
        Participant.years_of_illness.label("years_of_illness"),
    ).where(Participant.enrolment_date.is_not(None))


def _arm_column(values: dict[str, Any]) -> tuple[str | None, str]:
    return site_label(values), ARM_LABELS.get(values["arm"], values["arm"] or "No arm")


BASELINE = TableSpec(
    name="baseline_characteristics",
    title="Baseline characteristics of enrolled service users by site and arm",
    population=_baseline_population,
    group_by=("site", "arm"),
    label_columns=("site_name", "site_country"),
    column_label=_arm_column,
    corner="Characteristic",
    rows=(
        Row("N", "n"),
        Row("Gender, n (%)", "n_pct", "gender", categories=GENDERS),
        Row("Age in years, mean (SD)", "mean_sd", "age", decimals=1),
        Row("Age in years, median (IQR)", "median_iqr", "age", decimals=1, missing=False),
        Row(
            "Diagnoses, n (%) of participants",
            "multi_pct",
            source="diagnoses",
            value_label=diagnosis_label,
        ),
        Row("Marital status, n (%)", "n_pct", "marital_status", categories=MARITAL),
        Row("Employment, n (%)", "n_pct", "occupation"),
        Row("Years of illness, mean (SD)", "mean_sd", "years_of_illness", decimals=1),
    ),
    multi={"diagnoses": diagnoses_source},
    footnotes=(
        "Enrolled service users (enrolment date recorded), by site and randomised arm.",
        "Diagnoses: a participant may have several; percentages are of participants, "
        "not of diagnoses, and may add up to more than 100%.",
        "Age: recorded age, else age at enrolment from the year of birth.",
        STAT_NOTE,
        MISSING_NOTE,
    ),
)

# ----------------------------------------------------------------- recruitment


def _recruitment_population(ctx: BuildContext) -> Any:
    """The screening log and the service users, one row each, as 0/1 columns."""
    zero, one = literal(0), literal(1)
    null_text = cast(literal(None), String)
    people = service_users(
        ctx,
        zero.label("screened"),
        zero.label("eligible"),
        zero.label("not_eligible"),
        zero.label("declined"),
        one.label("registered"),
        indicator(Participant.consent_date.is_not(None)).label("consented"),
        indicator(Participant.enrolment_date.is_not(None)).label("enrolled"),
        indicator(Participant.arm == "intervention").label("arm_intervention"),
        indicator(Participant.arm == "control").label("arm_control"),
        indicator(Participant.status == "withdrawn").label("withdrawn"),
        indicator(Participant.status == "completed").label("completed"),
    )
    screened = (
        select(
            literal(None).label("pid"),
            ScreeningEntry.site_code.label("site"),
            Site.name.label("site_name"),
            Site.country.label("site_country"),
            one.label("screened"),
            indicator(ScreeningEntry.outcome == "eligible").label("eligible"),
            indicator(ScreeningEntry.outcome == "not_eligible").label("not_eligible"),
            indicator(ScreeningEntry.outcome == "declined").label("declined"),
            *[zero.label(name) for name in PARTICIPANT_STEPS],
        )
        .join(Site, Site.code == ScreeningEntry.site_code)
        .where(ScreeningEntry.deleted_at.is_(None))
    )
    as_of = ctx.read_at.date()
    schedule = _completed_assessments(ctx, as_of)
    assessed = (
        select(
            literal(None).label("pid"),
            schedule.c.site.label("site"),
            Site.name.label("site_name"),
            Site.country.label("site_country"),
            *[zero.label(name) for name in SCREENING_STEPS + PARTICIPANT_STEPS],
            schedule.c.event.label("assessment"),
        )
        .join(Site, Site.code == schedule.c.site)
        .where(schedule.c.status == "completed")
    )
    return union_all(
        people.add_columns(null_text.label("assessment")),
        screened.add_columns(null_text.label("assessment")),
        assessed,
    )


def _completed_assessments(ctx: BuildContext, as_of: Any) -> Any:
    """The schedule domain's statement (one set-based query): completed events."""
    from flask import current_app

    from trialdm.instruments.queries import instruments_due_by_event
    from trialdm.schedule.queries import schedule_events, schedule_query

    return (
        schedule_query(
            as_of,
            schedule_events(current_app.config),
            current_app.config["SCHEDULE_WINDOW_DAYS"],
            instruments_due_by_event(ctx.session),
        )
        .order_by(None)
        .subquery("assessments")
    )


def assessment_events(ctx: BuildContext) -> tuple[tuple[str, str], ...]:
    from flask import current_app

    from trialdm.schedule.queries import schedule_events

    return tuple(
        (
            event.name,
            f"{event.name} ({event.months} months)" if event.months else f"{event.name} (baseline)",
        )
        for event in schedule_events(current_app.config)
    )


SCREENING_STEPS = ("screened", "eligible", "not_eligible", "declined")


PARTICIPANT_STEPS = (
    "registered",
    "consented",
    "enrolled",
    "arm_intervention",
    "arm_control",
    "withdrawn",
    "completed",
)


def _site_column(values: dict[str, Any]) -> tuple[str | None, str]:
    return None, site_label(values)


def recruitment_chart(ctx: BuildContext) -> ChartData:
    """Cumulative enrolment per month and site (one small GROUP BY)."""
    month = cast(extract("year", Participant.enrolment_date), Integer) * 12 + cast(
        extract("month", Participant.enrolment_date), Integer
    )
    stmt = (
        select(Participant.site_code, month.label("m"), func.count())
        .where(
            Participant.category == "service_user",
            Participant.deleted_at.is_(None),
            Participant.enrolment_date.is_not(None),
        )
        .group_by(Participant.site_code, month)
    )
    per_site: dict[str, dict[int, int]] = defaultdict(dict)
    for site, m, n in ctx.session.execute(stmt):
        per_site[site][int(m)] = int(n)
    months = sorted({m for counts in per_site.values() for m in counts})
    if not months:
        return ChartData("Enrolment over time (cumulative)", [], {}, "Enrolled")
    span = list(range(months[0], months[-1] + 1))
    categories = [date((m - 1) // 12, (m - 1) % 12 + 1, 1) for m in span]
    series = {}
    for site in sorted(per_site):
        running, values = 0, []
        for m in span:
            running += per_site[site].get(m, 0)
            values.append(running)
        series[site] = values
    return ChartData("Enrolment over time (cumulative)", categories, series, "Enrolled")


RECRUITMENT = TableSpec(
    name="recruitment",
    title="Recruitment and retention by site",
    population=_recruitment_population,
    group_by=("site",),
    label_columns=("site_name", "site_country"),
    column_label=_site_column,
    corner="",
    rows=(
        Row("Screened", "count", "screened"),
        Row("Eligible", "count", "eligible"),
        Row("Not eligible", "count", "not_eligible"),
        Row("Declined", "count", "declined"),
        Row("Service users registered", "count", "registered"),
        Row("Consented", "count", "consented"),
        Row("Enrolled", "count", "enrolled"),
        Row("Randomised to peer support", "count", "arm_intervention"),
        Row("Randomised to usual care", "count", "arm_control"),
        Row("Withdrawn", "count", "withdrawn"),
        Row("Completed", "count", "completed"),
        Row(
            "Assessments completed, by event", "counts", "assessment", categories=assessment_events
        ),
    ),
    footnotes=(
        "CONSORT-style counts per site: screening from the screening log, the rest from "
        "the service users' records. Withdrawn and completed are the current status.",
        "The chart shows cumulative enrolment per month and site.",
    ),
    chart=recruitment_chart,
)
