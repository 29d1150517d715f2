"""Read helpers every domain shares."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from trialdm.core.errors import NotFound
from trialdm.core.models import SoftDeletable

T = TypeVar("T")


def get_or_404(
    session: Session, model: type[T], ident: Any, *criteria: ColumnElement[bool], missing: str
) -> T:
    """The record ``ident`` of ``model`` that the current principal may see, or
    NotFound with ``missing`` (a catalog text such as ``N_("No such participant.")``).
    Read with a SELECT, so site scoping applies (records
    of other sites do not exist); a soft-deleted record does not exist either.
    ``criteria`` narrow it further (e.g. the parent the path names)."""
    stmt = select(model).where(model.id == ident, *criteria)  # type: ignore[attr-defined]
    if issubclass(model, SoftDeletable):
        stmt = stmt.where(model.deleted_at.is_(None))
    found = session.scalar(stmt)
    if found is None:
        raise NotFound(missing)
    return found
