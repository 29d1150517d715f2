"""Site scoping: one ORM-level mechanism, never a filter each view must remember.

The sites the current principal may see live in a context variable. A
``do_orm_execute`` listener adds ``site_code IN (...)`` to every ORM SELECT,
UPDATE and DELETE touching a :class:`SiteScoped` entity. The default scope is
empty: code that never set one sees nothing, never everything. CLI commands
and tasks run with :func:`all_sites` explicitly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import CursorResult, Executable, event
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from trialdm.core.errors import N_, Forbidden, NotFound
from trialdm.core.models import SiteScoped

StatementT = TypeVar("StatementT", bound=Executable)


@dataclass(frozen=True)
class SiteScope:
    """The sites visible now. ``every_site`` wins over ``codes``."""

    codes: frozenset[str] = frozenset()
    every_site: bool = False

    def allows(self, site_code: str | None) -> bool:
        return self.every_site or (site_code is not None and site_code in self.codes)

    def limit(self, codes: Iterable[str]) -> SiteScope:
        """This scope narrowed to ``codes``."""
        wanted = frozenset(codes)
        return SiteScope(codes=wanted if self.every_site else self.codes & wanted)


NO_SITES = SiteScope()
EVERY_SITE = SiteScope(every_site=True)

_current_scope: ContextVar[SiteScope] = ContextVar("trialdm_site_scope", default=NO_SITES)

# Statements executed with this option set skip the filter; only for code that
# checks sites itself (e.g. allocating a study ID across a unique index).
SKIP_SCOPING = "trialdm_skip_site_scoping"


def current_scope() -> SiteScope:
    return _current_scope.get()


def set_scope(scope: SiteScope):
    """Set the scope for the rest of this context (a request); returns a reset token."""
    return _current_scope.set(scope)


def reset_scope(token) -> None:
    _current_scope.reset(token)


@contextmanager
def scoped_to(scope: SiteScope) -> Iterator[SiteScope]:
    token = _current_scope.set(scope)
    try:
        yield scope
    finally:
        _current_scope.reset(token)


def all_sites():
    """Context manager for system work (CLI, tasks) that may touch every site."""
    return scoped_to(EVERY_SITE)


def require_site(site_code: str | None, *, hide: bool = False) -> None:
    """Refuse a write to a site outside the current scope.

    ``hide`` answers 404 instead of 403, for targets whose existence should not leak.
    """
    if not current_scope().allows(site_code):
        if hide:
            raise NotFound(N_("No such record."))
        raise Forbidden(
            N_("You may not write to this site."), errors={"site": [N_("Not one of your sites.")]}
        )


def with_site_criteria(statement: StatementT) -> StatementT:
    """``statement`` limited to the current scope's sites: the criteria the ORM
    listener adds, for an ORM-built statement run on the session's Connection (a
    Core result, no ORM row loading), where ``do_orm_execute`` does not fire. The
    criteria are compiled by the ORM in both cases, so they are the same SQL."""
    scope = _current_scope.get()
    if scope.every_site:
        return statement
    codes = tuple(sorted(scope.codes))
    return statement.options(
        with_loader_criteria(
            SiteScoped,
            lambda cls: cls.site_code.in_(codes),
            include_aliases=True,
        )
    )


def execute_scoped_rows(session: Session, statement: Executable) -> CursorResult:
    """``statement`` run on the session's Connection with the current scope's site
    criteria (:func:`with_site_criteria`): plain Core rows, without the ORM's
    per-row result handling, for reads of many rows. The session's pending changes
    are flushed first when it autoflushes, as its own ``execute`` would."""
    if session.autoflush:
        session.flush()
    return session.connection().execute(with_site_criteria(statement))


def _add_site_criteria(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.execution_options.get(SKIP_SCOPING, False):
        return
    state.statement = with_site_criteria(state.statement)


def install_site_scoping() -> None:
    """Attach the listener to every Session once (idempotent)."""
    if not event.contains(Session, "do_orm_execute", _add_site_criteria):
        event.listen(Session, "do_orm_execute", _add_site_criteria)
