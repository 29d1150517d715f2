from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from trialdm.core.errors import N_
from trialdm.core.queries import get_or_404
from trialdm.screening.models import ScreeningEntry

SORTABLE = {
    "id": ScreeningEntry.id,
    "screening_date": ScreeningEntry.screening_date,
    "site": ScreeningEntry.site_code,
    "created_at": ScreeningEntry.created_at,
}


def get_entry(session: Session, entry_id: int) -> ScreeningEntry:
    return get_or_404(session, ScreeningEntry, entry_id, missing=N_("No such screening entry."))


def entries_query(filters: Mapping[str, Any]) -> Select:
    stmt = select(ScreeningEntry).where(ScreeningEntry.deleted_at.is_(None))
    if filters.get("site"):
        stmt = stmt.where(ScreeningEntry.site_code == filters["site"])
    if filters.get("outcome"):
        stmt = stmt.where(ScreeningEntry.outcome == filters["outcome"])
    if filters.get("date_from"):
        stmt = stmt.where(ScreeningEntry.screening_date >= filters["date_from"])
    if filters.get("date_to"):
        stmt = stmt.where(ScreeningEntry.screening_date <= filters["date_to"])
    return stmt
