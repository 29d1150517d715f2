"""Dashboard widget results kept per site, under a key that changes with everything
they depend on: the widget, the site, the day, the widget's inputs (settings,
instrument versions) and the site's change stamp of what the widget reads: the
highest audit-event id (with its time) of the site among the audited entities whose
rows the widget reads. Every change of a site's data writes an audit row with its
entity and site code in the same transaction (the flush listener of
:mod:`trialdm.core.audit`), so a result stored under a stamp is the result for every
later request that reads the same stamp: a stale value cannot be served, whichever
process stored it, and nothing needs to be deleted when data changes (old keys are
simply never asked for again). A change the widget does not read (a questionnaire
answer for the fidelity counts, a transcript) leaves its stamp, and its result, as
they were.

The stamps are read for all of the user's sites and entities in one statement, each
by a correlated ``max(id)`` that the ``(site_code, entity, id)`` index answers in
O(log n).

Ids are handed out before commit. SQLite has one writer at a time, so an id below
the stamp cannot commit later. PostgreSQL can commit a lower id after a higher one;
a result computed while other transactions of the database are writing is therefore
served but not stored (the stamp statement reads whether any are in progress).

A widget whose site result can follow its changes (the fidelity counts, the due
assessments) also keeps, per site and day, the state it was made from under the stamp
it was computed at; :func:`changes_between` reads the site's audit rows written since,
from which the widget updates its state instead of reading the site whole.

The store is Redis when ``DASHBOARD_CACHE_URI`` names one (shared by the web
workers and Celery), else a per-process dictionary holding the most recent entries.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from flask import Flask, current_app
from sqlalchemy import func, literal, literal_column, select, union_all
from sqlalchemy.orm import Session

from trialdm.core.audit import AuditEvent
from trialdm.core.scoping import SiteScope
from trialdm.sites.models import Site

log = logging.getLogger(__name__)

STORE_KEY = "trialdm.widget_cache"
# Entries of past days are never read again; Redis drops them after this.
ENTRY_SECONDS = 2 * 24 * 3600


class WidgetStore(Protocol):
    hits: int
    misses: int

    def get_many(self, keys: list[str]) -> list[Any | None]: ...

    def set_many(self, items: dict[str, Any]) -> None: ...

    def clear(self) -> None: ...


class MemoryStore:
    """The most recent ``max_entries`` results of this process (least recently used
    go first)."""

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_many(self, keys: list[str]) -> list[Any | None]:
        found: list[Any | None] = []
        with self._lock:
            for key in keys:
                value = self._entries.get(key)
                if value is None:
                    self.misses += 1
                else:
                    self._entries.move_to_end(key)
                    self.hits += 1
                found.append(value)
        return found

    def set_many(self, items: dict[str, Any]) -> None:
        with self._lock:
            for key, value in items.items():
                self._entries[key] = value
                self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class RedisStore:
    """Shared by every process that names the same Redis. An unreachable Redis is a
    miss (the dashboard computes), never an error page."""

    def __init__(self, url: str, prefix: str = "trialdm:widget:") -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.prefix = prefix
        self.hits = 0
        self.misses = 0

    def get_many(self, keys: list[str]) -> list[Any | None]:
        import redis

        try:
            raw = self._redis.mget([self.prefix + key for key in keys])
        except redis.RedisError as exc:
            log.warning("dashboard cache unavailable: %s", exc)
            raw = [None] * len(keys)
        found = [None if value is None else pickle.loads(value) for value in raw]
        self.hits += sum(value is not None for value in found)
        self.misses += sum(value is None for value in found)
        return found

    def set_many(self, items: dict[str, Any]) -> None:
        import redis

        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for key, value in items.items():
                    pipe.set(self.prefix + key, pickle.dumps(value), ex=ENTRY_SECONDS)
                pipe.execute()
        except redis.RedisError as exc:
            log.warning("dashboard cache unavailable: %s", exc)

    def clear(self) -> None:
        import redis

        try:
            for key in self._redis.scan_iter(self.prefix + "*"):
                self._redis.delete(key)
        except redis.RedisError as exc:
            log.warning("dashboard cache unavailable: %s", exc)


def make_store(uri: str) -> WidgetStore:
    if uri.startswith(("redis://", "rediss://", "unix://")):
        return RedisStore(uri)
    if uri.startswith("memory://"):
        return MemoryStore()
    raise ValueError(f"DASHBOARD_CACHE_URI: memory:// or redis://, not {uri!r}")


def init_widget_store(app: Flask) -> None:
    app.extensions[STORE_KEY] = make_store(app.config.get("DASHBOARD_CACHE_URI", "memory://"))


def widget_store() -> WidgetStore:
    store = current_app.extensions.get(STORE_KEY)
    if store is None:
        store = current_app.extensions[STORE_KEY] = MemoryStore()
    return store


@dataclass(frozen=True)
class SiteStamps:
    """The change stamps of each site in a scope, per audited entity (None: no audited
    change yet), and whether a result computed now may be stored."""

    stamps: dict[str, dict[str, tuple[int, str] | None]]
    storable: bool

    def sites(self) -> list[str]:
        return list(self.stamps)

    def latest(self, site: str, entities: Iterable[str]) -> tuple[int, str] | None:
        """The site's latest audited change of any of ``entities``: (id, time); ids
        grow, so the highest is the latest; its time tells a reused id apart."""
        found = [self.stamps[site][entity] for entity in entities]
        return max((stamp for stamp in found if stamp is not None), default=None)

    def stamp(self, site: str, entities: Iterable[str]) -> str | None:
        """The site's stamp of ``entities`` as text, for a key."""
        latest = self.latest(site, entities)
        return None if latest is None else f"{latest[0]}@{latest[1]}"


def site_stamps(session: Session, scope: SiteScope, entities: Iterable[str]) -> SiteStamps:
    """One statement: every site of ``scope`` with its highest audit-event id (and
    that row's time) of each of ``entities``."""
    audit = AuditEvent.__table__
    sites = Site.__table__
    names = sorted(set(entities))
    columns = []
    for i, entity in enumerate(names):
        of_entity = (audit.c.site_code == sites.c.code, audit.c.entity == entity)
        columns.append(
            select(func.max(audit.c.id)).where(*of_entity).scalar_subquery().label(f"id_{i}")
        )
        # SQLite hands a rolled-back id out again: the time of the row tells them apart
        columns.append(
            select(audit.c.at)
            .where(*of_entity)
            .order_by(audit.c.id.desc())
            .limit(1)
            .scalar_subquery()
            .label(f"at_{i}")
        )
    if session.get_bind().dialect.name == "postgresql":
        # other writing transactions of this database may still commit an id below the
        # stamp (this one's own rows are in the stamp, and a rolled-back id is never
        # handed out again)
        writing = literal_column(
            "(SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND backend_xid IS NOT NULL AND pid <> pg_backend_pid())"
        )
    else:
        writing = literal(0)
    stmt = select(sites.c.code, writing.label("writing"), *columns).order_by(sites.c.code)
    if not scope.every_site:
        stmt = stmt.where(sites.c.code.in_(sorted(scope.codes)))
    rows = session.execute(stmt).all()
    stamps: dict[str, dict[str, tuple[int, str] | None]] = {}
    for row in rows:
        values = row._mapping
        stamps[row.code] = {
            entity: None
            if values[f"id_{i}"] is None
            else (values[f"id_{i}"], str(values[f"at_{i}"]))
            for i, entity in enumerate(names)
        }
    return SiteStamps(stamps, storable=all(not row.writing for row in rows))


@dataclass(frozen=True)
class AuditedChange:
    """One audit row of a site since a kept result: what changed (entity, its id, the
    action and the recorded old and new values)."""

    entity: str
    entity_id: str | None
    action: str
    changes: dict[str, Any]


def changes_between(
    session: Session,
    spans: dict[str, tuple[tuple[int, str] | None, tuple[int, str]]],
    entities: Iterable[str],
    limit: int,
) -> dict[str, list[AuditedChange] | None]:
    """Per site, its audit rows of ``entities`` after the first stamp of its span up to
    the second, in id order, by one statement (each site's a range of the
    ``(site_code, entity, id)`` index). None for a site whose first stamp's row is not
    there as it was (an id handed out again after a rollback) or with more than
    ``limit`` rows: that site is computed whole instead."""
    if not spans:
        return {}
    audit = AuditEvent.__table__
    names = sorted(set(entities))
    parts = []
    for site, (since, upto) in sorted(spans.items()):
        # the first stamp's own row too, to check that it is the one the result saw
        low = since[0] if since is not None else 0
        part = (
            select(
                audit.c.id,
                audit.c.at,
                audit.c.site_code,
                audit.c.entity,
                audit.c.entity_id,
                audit.c.action,
                audit.c.changes,
            )
            .where(
                audit.c.site_code == site,
                audit.c.entity.in_(names),
                audit.c.id >= low,
                audit.c.id <= upto[0],
            )
            .order_by(audit.c.id)
            .limit(limit + 2)
            .subquery()
        )
        parts.append(select(*part.c))
    stmt = parts[0] if len(parts) == 1 else union_all(*parts)
    rows: dict[str, list[Any]] = {site: [] for site in spans}
    for row in session.execute(stmt):
        rows[row.site_code].append(row)
    found: dict[str, list[AuditedChange] | None] = {}
    for site, (since, upto) in spans.items():
        these = sorted(rows[site], key=lambda row: row.id)
        if since is not None:
            if not these or (these[0].id, str(these[0].at)) != since:
                found[site] = None
                continue
            these = these[1:]
        if not these or len(these) > limit or (these[-1].id, str(these[-1].at)) != upto:
            found[site] = None
            continue
        found[site] = [
            AuditedChange(row.entity, row.entity_id, row.action, row.changes or {}) for row in these
        ]
    return found


def entry_key(widget: str, site: str, day: date, inputs: str, stamp: str | None) -> str:
    return f"{widget}:{site}:{day.isoformat()}:{inputs}:{stamp or '-'}"


def inputs_digest(inputs: Iterable[Any]) -> str:
    """A short digest of a widget's inputs (settings and reference data it reads),
    so that a changed setting or a new instrument version is a new key."""
    return hashlib.sha256(repr(tuple(inputs)).encode()).hexdigest()[:16]
