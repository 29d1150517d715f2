"""Columns that other areas add to the participant list (e.g. fidelity), each with
its filter, shown to users who hold its permission."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Select
from sqlalchemy.orm import Session

from trialdm.auth.permissions import current_principal

COLUMNS_KEY = "trialdm.participant_columns"


@dataclass(frozen=True)
class ListColumn:
    name: str  # also the query parameter of its filter
    label: Any
    permission: str
    options: Sequence[tuple[str, Any]]
    apply_filter: Callable[[Select, str], Select]
    values: Callable[[Session, list[Any]], dict[int, str]]  # participant id -> code


def add_participant_column(app: Flask, column: ListColumn) -> None:
    app.extensions.setdefault(COLUMNS_KEY, []).append(column)


def participant_columns() -> list[ListColumn]:
    principal = current_principal()
    return [
        column
        for column in current_app.extensions.get(COLUMNS_KEY, [])
        if principal is not None and principal.has(column.permission)
    ]
