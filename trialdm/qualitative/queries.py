from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from trialdm.core.errors import N_
from trialdm.core.queries import get_or_404
from trialdm.qualitative.models import QualitativeMember, QualitativeSession

SORTABLE = {
    "id": QualitativeSession.id,
    "date": QualitativeSession.date,
    "site": QualitativeSession.site_code,
}
MISSING = {"focus_group": N_("No such focus group."), "interview": N_("No such interview.")}


def get_session(session: Session, kind: str, session_id: int) -> QualitativeSession:
    return get_or_404(
        session,
        QualitativeSession,
        session_id,
        QualitativeSession.kind == kind,
        missing=MISSING[kind],
    )


def get_member(session: Session, record: QualitativeSession, member_id: int) -> QualitativeMember:
    return get_or_404(
        session,
        QualitativeMember,
        member_id,
        QualitativeMember.session_id == record.id,
        missing=N_("No such member."),
    )


def sessions_query(kind: str, filters: Mapping[str, Any]) -> Select:
    stmt = select(QualitativeSession).where(
        QualitativeSession.kind == kind, QualitativeSession.deleted_at.is_(None)
    )
    if filters.get("site"):
        stmt = stmt.where(QualitativeSession.site_code == filters["site"])
    if filters.get("date_from"):
        stmt = stmt.where(QualitativeSession.date >= filters["date_from"])
    if filters.get("date_to"):
        stmt = stmt.where(QualitativeSession.date <= filters["date_to"])
    if filters.get("participant_id"):
        stmt = stmt.where(
            QualitativeSession.id.in_(
                select(QualitativeMember.session_id).where(
                    QualitativeMember.participant_id == filters["participant_id"],
                    QualitativeMember.removed_at.is_(None),
                )
            )
        )
    return stmt
