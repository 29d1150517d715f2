"""The ``fidelity`` table: the contacts domain's set-based fidelity query, by site."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from trialdm.contacts.models import ContactAttendance, ContactSession
from trialdm.contacts.queries import fidelity_subquery
from trialdm.sites.models import Site
from trialdm.summaries.engine import indicator
from trialdm.summaries.spec import BuildContext, Row, TableSpec

STATUS_LABELS = (
    ("met", "Reached the minimum contacts inside the window"),
    ("on_track", "On track"),
    ("at_risk", "At risk now"),
    ("not_met", "Window closed short of the minimum"),
    ("not_started", "Not started"),
    ("withdrawn", "Withdrawn before reaching the minimum"),
)


def _population(ctx: BuildContext) -> Any:
    as_of = ctx.read_at.date()
    fid = fidelity_subquery(as_of)
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


def _site_column(values: dict[str, Any]) -> tuple[str | None, str]:
    return None, f"{values['site_name']}, {values['site_country']} ({values['site']})"


FIDELITY = TableSpec(
    name="fidelity",
    title="Intervention fidelity by site",
    population=_population,
    group_by=("site",),
    label_columns=("site_name", "site_country"),
    column_label=_site_column,
    corner="",
    rows=(
        Row("Intervention participants", "n"),
        Row(
            "Contacts per participant, median (IQR)",
            "median_iqr",
            "contacts",
            decimals=1,
            missing=False,
        ),
        Row("Contacts per participant, mean (SD)", "mean_sd", "contacts", missing=False),
        Row("Fidelity status now, n (%)", "n_pct", "status", categories=STATUS_LABELS),
        Row(
            "Individual contacts, n (% of contacts)", "share", "individual", denominator="contacts"
        ),
        Row("Group contacts, n (% of contacts)", "share", "group_contacts", denominator="contacts"),
    ),
    footnotes=(
        "Enrolled intervention-arm service users. A contact is one attendance at a "
        "peer-support session up to the day the data were read; a group session counts "
        "once for each attendee.",
        "Fidelity: the minimum number of contacts (setting FIDELITY_MIN_CONTACTS) inside "
        "the intervention window (INTERVENTION_WINDOW_MONTHS from the start of peer "
        "support), as computed by the contacts domain; 'at risk' means behind a steady pace.",
        "Median and IQR: quartiles by linear interpolation (inclusive method).",
    ),
)
