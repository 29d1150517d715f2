"""Paging and sorting for list endpoints: page numbers, or a keyset cursor on id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import marshmallow as ma
from flask import current_app
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from trialdm.core.errors import N_, Message, ValidationFailed
from trialdm.core.inputs import MAX_ID
from trialdm.core.limits import KEY, at_most

MAX_PAGE = 1_000_000


class PageArgs(ma.Schema):
    # Bounded so that the offset and the cursor stay within the database's integers.
    page = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1, max=MAX_PAGE))
    per_page = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1))
    after = ma.fields.Integer(
        load_default=None,
        validate=ma.validate.Range(min=0, max=MAX_ID),
        metadata={"description": "Keyset cursor: items with id above this"},
    )
    sort = ma.fields.String(
        load_default=None,
        validate=at_most(KEY),
        metadata={"description": "Comma-separated fields, '-' for descending"},
    )


class PageMeta(ma.Schema):
    total = ma.fields.Integer(
        allow_none=True,
        metadata={
            "description": "Items in the whole list; null when paging by cursor, or for a "
            "list filtered by a derived status (fidelity), which is not counted"
        },
    )
    page = ma.fields.Integer(allow_none=True)
    per_page = ma.fields.Integer()
    next_after = ma.fields.Integer(allow_none=True)


def order_by(stmt: Select, sort: str | None, allowed: Mapping[str, Any], default: Any) -> Select:
    """Apply ``sort`` (e.g. ``-enrolment_date,study_id``) from an allow-list of columns."""
    if not sort:
        return stmt.order_by(default)
    clauses = []
    for raw in sort.split(","):
        name = raw.strip()
        descending = name.startswith("-")
        name = name.lstrip("-+")
        column = allowed.get(name)
        if column is None:
            raise ValidationFailed(
                N_("Unknown sort field."),
                errors={
                    "sort": [
                        Message(
                            N_("'%(name)s' is not sortable; use one of %(allowed)s."),
                            name=name,
                            allowed=", ".join(allowed),
                        )
                    ]
                },
            )
        clauses.append(column.desc() if descending else column.asc())
    return stmt.order_by(*clauses, default)


def paginate(
    session: Session,
    stmt: Select,
    args: Mapping[str, Any],
    id_column: Any,
    *,
    ids_first: bool = False,
    count: bool = True,
) -> dict:
    """Run ``stmt`` for one page. With ``after``, pages by id (keyset) instead, and
    counts nothing: a cursor's next page costs the same at any depth of any list.

    ``ids_first``: a page past the first reads the page's ids first (its filters,
    joins and order over the ids alone, which an index may give without the rows),
    then loads those rows by key, so that an offset never carries the rows' other
    columns (``stmt`` selects one entity, whose criteria the load applies too). A first
    page reads its rows at once.

    ``count=False``: pages by number count nothing either (``total`` is null), for
    statements whose filter the database evaluates row by row in the list's order (a
    derived status): a page reads its rows and one more, to tell whether a next page
    exists, and stops there; a count would evaluate the filter for every row."""
    config = current_app.config
    per_page = min(args.get("per_page") or config["DEFAULT_PAGE_SIZE"], config["MAX_PAGE_SIZE"])
    after = args.get("after")
    total: int | None = None
    if after is not None:
        if args.get("sort"):
            raise ValidationFailed.field("after", N_("Keyset paging orders by id; omit 'sort'."))
        items = list(
            session.scalars(
                stmt.where(id_column > after).order_by(None).order_by(id_column).limit(per_page)
            )
        )
        page = None
    else:
        page = args.get("page") or 1
        offset = (page - 1) * per_page
        if not count:
            items = list(session.scalars(stmt.limit(per_page + 1).offset(offset)))
            more, items = len(items) > per_page, items[:per_page]
            next_after = items[-1].id if more else None
            meta = {"total": None, "page": page, "per_page": per_page, "next_after": next_after}
            return {"items": items, "meta": meta}
        if ids_first and offset:
            items = _page_by_ids(session, stmt, id_column, per_page, offset)
        else:
            items = list(session.scalars(stmt.limit(per_page).offset(offset)))
        total = count_rows(session, stmt, id_column)
    next_after = items[-1].id if len(items) == per_page else None
    return {
        "items": items,
        "meta": {"total": total, "page": page, "per_page": per_page, "next_after": next_after},
    }


def _page_by_ids(
    session: Session, stmt: Select, id_column: Any, limit: int, offset: int
) -> list[Any]:
    keys = stmt.with_only_columns(id_column, maintain_column_froms=True)
    ids = list(session.scalars(keys.limit(limit).offset(offset)))
    if not ids:
        return []
    entity = stmt.column_descriptions[0]["entity"]
    found = {
        getattr(item, id_column.key): item
        for item in session.scalars(select(entity).where(id_column.in_(ids)))
    }
    return [found[i] for i in ids if i in found]


def count_rows(session: Session, stmt: Select, id_column: Any) -> int:
    """How many rows ``stmt`` gives, counted over the ids alone: the rows' other
    columns (large JSON) are never read."""
    counted = stmt.order_by(None).with_only_columns(id_column, maintain_column_froms=True)
    return session.scalar(select(func.count()).select_from(counted.subquery())) or 0
