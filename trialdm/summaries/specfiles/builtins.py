"""Named populations, categories and charts a table file may refer to.

Some tables need a population no declaration can say: the CONSORT flow unites
the screening log, the service users and the schedule's completed assessments;
fidelity is the contacts domain's rule. The table itself stays a file; it names
the population (``population = "recruitment_flow"``) and uses its columns.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import Integer, String, cast, extract, func, literal, select, union_all

from trialdm.core.catalog import BASELINE_LABEL, EVENT_LABEL
from trialdm.core.errors import N_
from trialdm.participants.models import Participant
from trialdm.screening.models import ScreeningEntry
from trialdm.sites.models import Site
from trialdm.summaries.engine import ChartData, indicator
from trialdm.summaries.spec import BuildContext

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
SITE_COLUMNS = {"site": "text", "site_name": "text", "site_country": "text"}


def _recruitment_flow(ctx: BuildContext) -> Any:
    """The screening log, the service users and completed assessments, one row
    each, as 0/1 columns (and the event of an assessment)."""
    zero, one = literal(0), literal(1)
    null_text = cast(literal(None), String)
    people = (
        select(
            Participant.id.label("pid"),
            Participant.site_code.label("site"),
            Site.name.label("site_name"),
            Site.country.label("site_country"),
            *[zero.label(name) for name in SCREENING_STEPS],
            one.label("registered"),
            indicator(Participant.consent_date.is_not(None)).label("consented"),
            indicator(Participant.enrolment_date.is_not(None)).label("enrolled"),
            indicator(Participant.arm == "intervention").label("arm_intervention"),
            indicator(Participant.arm == "control").label("arm_control"),
            indicator(Participant.status == "withdrawn").label("withdrawn"),
            indicator(Participant.status == "completed").label("completed"),
            null_text.label("assessment"),
        )
        .join(Site, Site.code == Participant.site_code)
        .where(Participant.category == "service_user", Participant.deleted_at.is_(None))
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
            null_text.label("assessment"),
        )
        .join(Site, Site.code == ScreeningEntry.site_code)
        .where(ScreeningEntry.deleted_at.is_(None))
    )
    schedule = _completed_assessments(ctx)
    assessed = select(
        literal(None).label("pid"),
        schedule.c.site.label("site"),
        Site.name.label("site_name"),
        Site.country.label("site_country"),
        *[zero.label(name) for name in SCREENING_STEPS + PARTICIPANT_STEPS],
        schedule.c.event.label("assessment"),
    ).join(Site, Site.code == schedule.c.site)
    return union_all(people, screened, assessed)


def _completed_assessments(ctx: BuildContext) -> Any:
    """The schedule domain's completed events (one set-based query): those its
    schedule gives the status ``completed``."""
    from flask import current_app

    from trialdm.instruments.queries import instruments_due_by_event
    from trialdm.schedule.queries import completed_events_query, schedule_events

    return completed_events_query(
        schedule_events(current_app.config), instruments_due_by_event(ctx.session)
    ).subquery("assessments")


def _fidelity(ctx: BuildContext) -> Any:
    from trialdm.contacts.models import ContactAttendance, ContactSession
    from trialdm.contacts.queries import fidelity_subquery
    from trialdm.core.scoping import current_scope

    as_of = ctx.read_at.date()
    scope = current_scope()
    # A site's workbook: the rule reads that site's contacts only (filtered first).
    one_site = next(iter(scope.codes)) if not scope.every_site and len(scope.codes) == 1 else None
    # A statement of this build's own (not the one kept per date and rule), so that
    # the next build's statement has the same cache key (see fidelity_subquery).
    fid = fidelity_subquery(as_of, site_code=one_site, shared=False)
    by_format = (
        select(
            ContactAttendance.participant_id.label("participant_id"),
            func.sum(indicator(ContactSession.format == "individual")).label("individual"),
            func.sum(indicator(ContactSession.format == "group")).label("group_contacts"),
        )
        .join(ContactSession, ContactSession.id == ContactAttendance.session_id)
        .where(ContactSession.deleted_at.is_(None), ContactSession.date <= as_of)
        .group_by(ContactAttendance.participant_id)
        .subquery("contacts_by_format")
    )
    return (
        select(
            fid.c.participant_id.label("pid"),
            fid.c.site_code.label("site"),
            Site.name.label("site_name"),
            Site.country.label("site_country"),
            fid.c.contacts_total.label("contacts"),
            fid.c.contacts_in_window.label("contacts_in_window"),
            fid.c.status.label("status"),
            func.coalesce(by_format.c.individual, 0).label("individual"),
            func.coalesce(by_format.c.group_contacts, 0).label("group_contacts"),
        )
        .join(Site, Site.code == fid.c.site_code)
        .outerjoin(by_format, by_format.c.participant_id == fid.c.participant_id)
    )


# name -> (statement of the build, its columns and their kinds)
POPULATIONS: dict[str, tuple[Callable[[BuildContext], Any], dict[str, str]]] = {
    "recruitment_flow": (
        _recruitment_flow,
        {
            **SITE_COLUMNS,
            **{name: "number" for name in SCREENING_STEPS + PARTICIPANT_STEPS},
            "assessment": "text",
        },
    ),
    "fidelity": (
        _fidelity,
        {
            **SITE_COLUMNS,
            "contacts": "number",
            "contacts_in_window": "number",
            "status": "text",
            "individual": "number",
            "group_contacts": "number",
        },
    ),
}


ENROLMENT_CHART = N_("Enrolment over time (cumulative)")
ENROLLED = N_("Enrolled")


def schedule_events(ctx: BuildContext) -> tuple[tuple[str, str], ...]:
    """The assessment events of the settings, as printed: 'T1 (4 months)'."""
    from flask import current_app

    from trialdm.schedule.queries import schedule_events as events

    return tuple(
        (
            event.name,
            EVENT_LABEL % {"event": event.name, "months": event.months}
            if event.months
            else BASELINE_LABEL % {"event": event.name},
        )
        for event in events(current_app.config)
    )


CATEGORIES: dict[str, Callable[[BuildContext], tuple[tuple[str, str], ...]]] = {
    "schedule_events": schedule_events,
}


def enrolment_by_month(ctx: BuildContext) -> ChartData:
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
        return ChartData(ENROLMENT_CHART, [], {}, ENROLLED)
    span = list(range(months[0], months[-1] + 1))
    categories = [date((m - 1) // 12, (m - 1) % 12 + 1, 1) for m in span]
    series = {}
    for site in sorted(per_site):
        running, values = 0, []
        for m in span:
            running += per_site[site].get(m, 0)
            values.append(running)
        series[site] = values
    return ChartData(ENROLMENT_CHART, categories, series, ENROLLED)


CHARTS: dict[str, Callable[[BuildContext], ChartData]] = {"enrolment_by_month": enrolment_by_month}
