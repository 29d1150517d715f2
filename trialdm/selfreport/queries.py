from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, select
from sqlalchemy.orm import Session

from trialdm.core.errors import N_, NotFound
from trialdm.participants.models import Participant
from trialdm.selfreport.models import SelfReportLink


def get_link(session: Session, link_id: int) -> SelfReportLink:
    """A link of a participant of the current scope, or 404."""
    link = session.scalar(
        select(SelfReportLink)
        .join(Participant, Participant.id == SelfReportLink.participant_id)
        .where(SelfReportLink.id == link_id, Participant.deleted_at.is_(None))
    )
    if link is None:
        raise NotFound(N_("No such self-report link."))
    return link


def links_query(filters: Mapping[str, Any]) -> Select:
    stmt = select(SelfReportLink).join(Participant, Participant.id == SelfReportLink.participant_id)
    stmt = stmt.where(Participant.deleted_at.is_(None))
    if filters.get("participant_id"):
        stmt = stmt.where(SelfReportLink.participant_id == filters["participant_id"])
    if filters.get("site"):
        stmt = stmt.where(SelfReportLink.site_code == filters["site"])
    return stmt


def link_url(token: str) -> str:
    from flask import url_for

    return url_for("self_report.answer", token=token, _external=True)


def qr_svg_data_uri(url: str) -> str:
    """The link as a QR code to print (SVG data URI)."""
    import segno

    return segno.make(url, error="m").svg_data_uri(scale=4)


def open_links_made_before(
    session: Session, site_code: str | None, made_before: datetime, now: datetime
) -> list[Row[Any]]:
    """Links of a site still open at ``now`` (not returned, revoked or expired) that
    were made before ``made_before``, with the participant's study ID."""
    stmt = open_links_statement(made_before, now)
    if site_code:
        stmt = stmt.where(SelfReportLink.site_code == site_code)
    return list(session.execute(stmt))


def open_links_statement(made_before: datetime, now: datetime) -> Select:
    """The statement of :func:`open_links_made_before`, for every site."""
    return (
        select(
            SelfReportLink.id,
            SelfReportLink.participant_id,
            SelfReportLink.instrument_name,
            SelfReportLink.event,
            SelfReportLink.created_at,
            SelfReportLink.expires_at,
            Participant.study_id,
        )
        .join(Participant, Participant.id == SelfReportLink.participant_id)
        .where(
            Participant.deleted_at.is_(None),
            SelfReportLink.completed_at.is_(None),
            SelfReportLink.revoked_at.is_(None),
            SelfReportLink.expires_at > now,
            SelfReportLink.created_at < made_before,
        )
        .order_by(SelfReportLink.id)
    )
