"""The dashboard: one widget per area, added by that area's pages. Each is read under
the sites where the user holds its permission (a translator sees no participant counts).

A widget names the roles whose daily work it is (``daily_for``): those come first for
a person holding such a role, so that on a phone, where the widgets stand in one
column, a research worker sees at-risk participants and due assessments before the
charts, a translator the queue; everything else follows by ``order``, the folded
reminders last."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import Flask, current_app
from sqlalchemy.orm import Session

from trialdm.auth.permissions import Principal
from trialdm.core.audit import entity_name
from trialdm.core.dates import today
from trialdm.core.requestcache import request_cached
from trialdm.core.scoping import SiteScope, scoped_to
from trialdm.sites.queries import sites_by_day
from trialdm.web.widgetcache import (
    AuditedChange,
    SiteStamps,
    changes_between,
    entry_key,
    inputs_digest,
    site_stamps,
    widget_store,
)

WIDGETS_KEY = "trialdm.dashboard_widgets"
# A site with more audited changes since its kept state is computed whole.
MOST_CHANGES = 1000


@dataclass(frozen=True)
class BySite:
    """How a widget is computed per site and combined.

    ``compute(session, day)``: the result of each site in the current scope that has
    one (a site left out has none), on ``day``, the sites' own date (sites on different
    dates around midnight are computed by a call per date); ``combine(results, day)``
    (the latest of the dates): the widget's data from
    the results of the user's sites, in site order; ``inputs(session)``: what else the
    results depend on (settings, reference data), part of the key; ``reads``: the
    audited models whose rows the results are made of (a row audited as part of
    another, such as a session's attendances, by that one): a site's result is
    computed again after an audited change of one of them there, and only then.

    ``update``, for a widget whose site result can follow its changes:
    ``compute`` then gives each site's kept state, ``result_of(state)`` its result,
    and ``update(session, day, site, state, changes)`` the state after the audited
    changes of the site since (None: compute the site whole). The state is kept per
    site and day beside the results; after a change the site's state is brought up to
    date from the audit rows written since, so the work follows what changed rather
    than the site's size."""

    compute: Callable[[Session, date], dict[str, Any]]
    combine: Callable[[list[Any], date], dict[str, Any] | None]
    inputs: Callable[[Session], tuple[Any, ...]] = lambda session: ()
    reads: tuple[type, ...] = field(kw_only=True)
    update: Callable[[Session, date, str, Any, list[AuditedChange]], Any | None] | None = field(
        default=None, kw_only=True
    )
    result_of: Callable[[Any], Any] = field(default=lambda state: state, kw_only=True)


@dataclass(frozen=True)
class Widget:
    name: str
    permission: str
    template: str
    data: Callable[[Session], dict[str, Any] | None] | None
    order: int = 50
    daily_for: frozenset[str] = frozenset()
    by_site: BySite | None = None

    def is_daily_for(self, principal: Principal) -> bool:
        return bool(self.daily_for.intersection(principal.roles))


class UnlessColumnsRead:
    """A ``BySite.update`` for a widget whose result is its state: the kept result
    stands when every change since is an update of ``columns``' models that left every
    column the widget reads as it was (an address, a phone number, a diagnosis);
    anything else (a change of a column read, an insert, a delete, another model)
    computes the site whole. ``follows``: the entities it may keep a result across
    (a site whose stamp of another one moved is computed whole without reading its
    changes)."""

    def __init__(self, columns: dict[type, frozenset[str]]) -> None:
        self.read = {entity_name(model): names for model, names in columns.items()}
        self.follows = frozenset(self.read)

    def __call__(
        self, session: Session, day: date, site: str, state: Any, changes: list[AuditedChange]
    ) -> Any | None:
        for change in changes:
            names = self.read.get(change.entity)
            if change.action != "update" or names is None or names & change.changes.keys():
                return None
        return state


def add_widget(app: Flask, widget: Widget) -> None:
    """Called by an area's pages when they are registered (``bp.record_once``)."""
    widgets = app.extensions.setdefault(WIDGETS_KEY, [])
    widgets.append(widget)
    widgets.sort(key=lambda w: w.order)


def dashboard_widgets(session: Session, principal: Principal) -> list[tuple[Widget, dict]]:
    shown = []
    for widget in current_app.extensions.get(WIDGETS_KEY, []):
        scope, roles = principal.scope_for(widget.permission)
        if not roles or (not scope.every_site and not scope.codes):
            continue
        with scoped_to(scope):
            data = _by_site(session, widget, scope) if widget.by_site else widget.data(session)
        if data is not None:
            shown.append((widget, data))
    # sorted() is stable: within each group the widgets keep their order
    return sorted(shown, key=lambda item: not item[0].is_daily_for(principal))


def _by_site(session: Session, widget: Widget, scope: SiteScope) -> dict[str, Any] | None:
    """The widget's data for the sites of ``scope``: each site's result from the store
    when its key is there; for a widget that can follow its changes, a site's kept
    state of the day brought up to date; the others computed by one statement scoped
    to them alone (so no other site's rows are read) and stored."""
    spec = widget.by_site
    assert spec is not None
    # each site on its own date: the day's due rows and contacts are the site's
    days = request_cached("dashboard.site_days", lambda: sites_by_day(session))
    # the widgets of one scope share one read of the stamps (of everything any of them
    # reads) per request
    scope_key = "*" if scope.every_site else ",".join(sorted(scope.codes))
    stamps = request_cached(
        f"dashboard.stamps.{scope_key}", lambda: site_stamps(session, scope, _entities_read())
    )
    inputs = inputs_digest(spec.inputs(session))
    sites = stamps.sites()
    day_of = {site: days.day_of(site) for site in sites}
    keys = {
        site: entry_key(
            widget.name,
            site,
            day_of[site],
            inputs,
            stamps.stamp(site, map(entity_name, spec.reads)),
        )
        for site in sites
    }
    store = widget_store()
    # each site's entry is [result], [None] for a site without one (stored too)
    found = dict(zip(sites, store.get_many(list(keys.values())), strict=True))
    missing = [site for site in sites if found[site] is None]
    if missing and spec.update is not None:
        updated = _updated(session, widget.name, spec, day_of, inputs, stamps, missing)
        fresh = {site: [result] for site, result in updated.items()}
        found.update(fresh)
        if stamps.storable:
            store.set_many({keys[site]: fresh[site] for site in fresh})
        missing = [site for site in missing if site not in fresh]
    if missing:
        computed = {}
        for day, codes in days.grouped(missing).items():
            with scoped_to(SiteScope(codes=frozenset(codes))):  # these sites alone
                computed.update(spec.compute(session, day))
        fresh = {site: [spec.result_of(computed.get(site))] for site in missing}
        found.update(fresh)
        if stamps.storable:
            store.set_many({keys[site]: fresh[site] for site in missing})
            if spec.update is not None:
                read = [entity_name(model) for model in spec.reads]
                store.set_many(
                    {
                        _state_key(widget.name, site, day_of[site], inputs): (
                            stamps.latest(site, read),
                            computed.get(site),
                        )
                        for site in missing
                    }
                )
    results = [found[site][0] for site in sites if found[site][0] is not None]
    return spec.combine(results, max(day_of.values(), default=today()))


def _state_key(widget: str, site: str, day: date, inputs: str) -> str:
    return entry_key(widget, site, day, inputs, "state")


def _updated(
    session: Session,
    widget: str,
    spec: BySite,
    day_of: dict[str, date],
    inputs: str,
    stamps: SiteStamps,
    sites: list[str],
) -> dict[str, Any]:
    """The results of ``sites`` that their kept states give: as kept when nothing the
    widget reads changed since, else brought up to date by ``spec.update`` from the
    site's audit rows written since (one statement for all sites). A site without a
    kept state of the day, or whose state cannot follow its changes, is left out."""
    assert spec.update is not None
    store = widget_store()
    entities = sorted(map(entity_name, spec.reads))
    state_keys = {site: _state_key(widget, site, day_of[site], inputs) for site in sites}
    kept = dict(zip(sites, store.get_many(list(state_keys.values())), strict=True))
    latest = {site: stamps.latest(site, entities) for site in sites}
    follows = getattr(spec.update, "follows", frozenset(entities))
    results: dict[str, Any] = {}
    spans = {}
    for site, entry in kept.items():
        if entry is None:
            continue
        since, state = entry
        if since == latest[site]:
            results[site] = spec.result_of(state)
        elif _moved(stamps, site, set(entities), since) and not _moved(
            stamps, site, set(entities) - follows, since
        ):
            # changed since, and only in what the update can follow
            spans[site] = (since, latest[site])
    changes = changes_between(session, spans, entities, MOST_CHANGES)
    states = {}
    for site, these in changes.items():
        if these is None:
            continue
        with scoped_to(SiteScope(codes=frozenset({site}))):
            state = spec.update(session, day_of[site], site, kept[site][1], these)
        if state is not None:
            states[site] = state
            results[site] = spec.result_of(state)
    if states and stamps.storable:
        store.set_many({state_keys[site]: (latest[site], state) for site, state in states.items()})
    return results


def _moved(
    stamps: SiteStamps, site: str, entities: set[str], since: tuple[int, str] | None
) -> bool:
    """Whether the site has an audited change of ``entities`` after ``since``."""
    latest = stamps.latest(site, entities)
    return latest is not None and (since is None or latest[0] > since[0])


def _entities_read() -> list[str]:
    return sorted(
        {
            entity
            for widget in current_app.extensions.get(WIDGETS_KEY, [])
            if widget.by_site
            for entity in map(entity_name, widget.by_site.reads)
        }
    )
