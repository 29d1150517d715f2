from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, select

from trialdm.core.audit import AuditEvent


def audit_query(filters: Mapping[str, Any]) -> Select:
    stmt = select(AuditEvent)
    if filters.get("entity"):
        stmt = stmt.where(AuditEvent.entity == filters["entity"])
    if filters.get("entity_id"):
        stmt = stmt.where(AuditEvent.entity_id == filters["entity_id"])
    if filters.get("site"):
        stmt = stmt.where(AuditEvent.site_code == filters["site"])
    if filters.get("action"):
        stmt = stmt.where(AuditEvent.action == filters["action"])
    user = filters.get("user")
    if user:
        stmt = stmt.where(
            AuditEvent.user_id == int(user) if user.isdigit() else AuditEvent.user_email == user
        )
    if filters.get("since"):
        stmt = stmt.where(AuditEvent.at >= filters["since"])
    if filters.get("until"):
        stmt = stmt.where(AuditEvent.at < filters["until"])
    return stmt


def history(session, entity: str, entity_id: Any) -> list[AuditEvent]:
    """Every event of one record, oldest first."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity == entity, AuditEvent.entity_id == str(entity_id))
            .order_by(AuditEvent.id)
        )
    )
