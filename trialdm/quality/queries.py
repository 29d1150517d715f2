"""Read helpers: queries by site, participant, response and field; counts; signatures."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, tuple_
from sqlalchemy.orm import Session

from trialdm.core.errors import N_
from trialdm.core.queries import get_or_404
from trialdm.core.scoping import SKIP_SCOPING
from trialdm.instruments.models import InstrumentResponse
from trialdm.participants.minimum_record import category_fields
from trialdm.quality.models import QUERY_STATUSES, DataQuery, Signature

QUERY_SORTABLE = {
    "id": DataQuery.id,
    "opened_at": DataQuery.opened_at,
    "status": DataQuery.status,
    "participant_id": DataQuery.participant_id,
}
SIGNATURE_SORTABLE = {"id": Signature.id, "signed_at": Signature.signed_at}


def participant_fields(category: str) -> set[str]:
    """Fields of a participant's record a query may point at."""
    return set(category_fields(category)) | {
        "study_id",
        "enrolment_date",
        "consent_date",
        "consent_version",
        "arm",
        "status",
        "withdrawal_date",
    }


def get_query(session: Session, query_id: int) -> DataQuery:
    return get_or_404(session, DataQuery, query_id, missing=N_("No such query."))


def queries_query(filters: Mapping[str, Any]) -> Select:
    stmt = select(DataQuery)
    if filters.get("site"):
        stmt = stmt.where(DataQuery.site_code == filters["site"])
    for name in ("participant_id", "response_id", "field", "status", "origin"):
        if filters.get(name) is not None:
            stmt = stmt.where(getattr(DataQuery, name) == filters[name])
    if filters.get("rule"):
        stmt = stmt.where(DataQuery.rule_name == filters["rule"])
    return stmt


def query_counts(session: Session, site_code: str | None = None) -> list[dict[str, Any]]:
    """Queries per site and status (your sites), for the dashboard and the API."""
    stmt = select(DataQuery.site_code, DataQuery.status, func.count()).group_by(
        DataQuery.site_code, DataQuery.status
    )
    if site_code:
        stmt = stmt.where(DataQuery.site_code == site_code)
    counts: dict[str, dict[str, Any]] = {}
    for site, status, n in session.execute(stmt):
        row = counts.setdefault(site, {"site": site, **dict.fromkeys(QUERY_STATUSES, 0)})
        row[status] = n
    return [counts[code] for code in sorted(counts)]


def unresolved_by_participant(session: Session, participant_ids: list[int]) -> dict[int, int]:
    """Open or answered queries per participant (the status grid's column)."""
    if not participant_ids:
        return {}
    rows = session.execute(
        select(DataQuery.participant_id, func.count())
        .where(
            DataQuery.participant_id.in_(participant_ids),
            DataQuery.status.in_(("open", "answered")),
        )
        .group_by(DataQuery.participant_id)
    )
    return {pid: n for pid, n in rows}


def queries_of_response(session: Session, response: InstrumentResponse) -> list[DataQuery]:
    """The queries shown on a response's page: its own, by field."""
    return list(
        session.scalars(
            select(DataQuery)
            .where(DataQuery.response_id == response.id)
            .order_by(DataQuery.status != "open", DataQuery.id)
        )
    )


def get_signature(session: Session, signature_id: int) -> Signature:
    return get_or_404(session, Signature, signature_id, missing=N_("No such signature."))


def signatures_query(filters: Mapping[str, Any]) -> Select:
    stmt = select(Signature)
    if filters.get("site"):
        stmt = stmt.where(Signature.site_code == filters["site"])
    for name in ("participant_id", "event"):
        if filters.get(name) is not None:
            stmt = stmt.where(getattr(Signature, name) == filters[name])
    if filters.get("response_id") is not None:
        # signed_versions is "id:version,id:version" (the responses an event covers)
        response_id = int(filters["response_id"])
        stmt = stmt.where(
            or_(
                Signature.response_id == response_id,
                Signature.signed_versions.like(f"{response_id}:%"),
                Signature.signed_versions.like(f"%,{response_id}:%"),
            )
        )
    if filters.get("standing") is not None:
        stmt = stmt.where(
            Signature.unlocked_at.is_(None)
            if filters["standing"]
            else Signature.unlocked_at.is_not(None)
        )
    return stmt


def standing_signatures(
    session: Session, responses: Iterable[InstrumentResponse], *, every_site: bool = False
) -> dict[int | None, Signature]:
    """The standing signature covering each response: a ``form`` signature of it, or
    an ``event`` signature of its participant at its event (keyed by response id; a
    response not stored yet is keyed None). ``every_site`` reads past the site scope
    (the flush guard must see every lock)."""
    responses = list(responses)
    ids = {r.id for r in responses if r.id is not None}
    events = {(r.participant_id, r.event) for r in responses if r.event is not None}
    conditions = []
    if ids:
        conditions.append(and_(Signature.scope == "form", Signature.response_id.in_(ids)))
    if events:
        conditions.append(
            and_(
                Signature.scope == "event",
                tuple_(Signature.participant_id, Signature.event).in_(sorted(events)),
            )
        )
    if not conditions:
        return {}
    stmt = select(Signature).where(Signature.unlocked_at.is_(None), or_(*conditions))
    if every_site:
        stmt = stmt.execution_options(**{SKIP_SCOPING: True})
    signatures = session.scalars(stmt).all()
    by_response = {s.response_id: s for s in signatures if s.scope == "form"}
    by_event = {(s.participant_id, s.event): s for s in signatures if s.scope == "event"}
    found: dict[int | None, Signature] = {}
    for response in responses:
        signature = by_response.get(response.id) if response.id is not None else None
        signature = signature or by_event.get((response.participant_id, response.event))
        if signature is not None:
            found[response.id] = signature
    return found


def standing_signature_of(session: Session, response: InstrumentResponse) -> Signature | None:
    """The standing signature that locks ``response``, if any (form or event)."""
    return standing_signatures(session, [response]).get(response.id)
