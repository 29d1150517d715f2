"""Reminder rules: each a small named class with its settings and one query per scan.

A rule looks at one site on one site-local day (or, for trial-wide rules, at the
whole trial on one UTC day) and yields :class:`Finding` s. It must be set-based:
at most one SELECT for the whole site, never a query per participant; rules that
read the same domain query share one statement per scan (``ScanContext.shared``).
A rule reads its site's rows through :func:`site_rows` (or ``ManySites.rows``), so
that a scan of many sites runs its statement once for all of them. The scan turns a
finding into a reminder whose dedupe key is ``rule:subject_type:subject_id:period``;
the period decides when the same subject earns a new reminder (the same event is
reminded once; an at-risk participant once a week). Texts name participants by
study ID only: they go out by e-mail. They are :func:`trialdm.reminders.texts.text`
values (a message id and its values), put into words in each reader's language.

The rules live by topic in ``rules_*.py`` and ``query_rules.py``; a rule over another
domain's data that needs that domain's operations lives in that domain and registers
itself here (``trialdm.selfreport.reminders``), so reminders never import it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, ClassVar

from sqlalchemy import ColumnElement, Row, Select, String, and_, cast, exists, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from trialdm.reminders.texts import Text

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SITE_TEAM = ("research_worker", "site_lead")
FOUND = "/reminders/found"  # the page the digests link to
DIGEST_RULES = ("weekly_site_digest", "weekly_trial_digest")
DIGEST_DAYS = 7  # a weekly digest counts the reminders of the seven days up to it


def in_digest_week(local_date: Any, digest_day: date) -> ColumnElement[bool]:
    """``local_date`` (a reminders' column) is one of the seven days ending with
    ``digest_day``: the stored reminders a weekly digest counts."""
    return and_(local_date > digest_day - timedelta(days=DIGEST_DAYS), local_date <= digest_day)


@dataclass
class ManySites:
    """The statements of a scan of many sites: each rule's statement (and the domain
    statements several rules share: the fidelity, the schedule) runs once per local
    day for all the scan's sites of that day, its rows grouped by site; the rules of
    each site read their site's rows from there. The statements of a scan so do not
    grow with its sites."""

    # local day -> the sites scanned for it
    days: dict[date, list[str]] = field(default_factory=dict)
    grouped: dict[tuple[str, date], dict[Any, list[Row[Any]]]] = field(default_factory=dict)
    # look-ups that are the same for every site (read once per scan)
    shared: dict[str, Any] = field(default_factory=dict)
    # local day -> (site, rule, dedupe key) of what the rules found at its sites: the
    # digests run after every site's other rules and count them all in one statement
    planned: dict[date, list[tuple[str | None, str, str]]] = field(default_factory=dict)

    def sites_on(self, local_date: date) -> list[str]:
        return self.days.get(local_date, [])

    def rows(
        self,
        session: Session,
        name: str,
        local_date: date,
        statement: Callable[[], Select],
        site_column: str,
        site_code: str | None,
    ) -> list[Row[Any]]:
        """The rows of ``statement`` (every site of the day; computed once, by the
        first site that asks) whose ``site_column`` is ``site_code``."""
        found = self.grouped.get((name, local_date))
        if found is None:
            found = self.grouped[(name, local_date)] = defaultdict(list)
            for row in session.execute(statement()):
                found[row._mapping[site_column]].append(row)
        return found.get(site_code, [])

    def drop(self, session: Session, *, failed: bool = False) -> None:
        """Forget the rows read (the scan is done)."""
        self.grouped.clear()
        self.shared.clear()


@dataclass(frozen=True)
class ScanContext:
    """What a rule evaluates: one site (None: the whole trial) on one day. ``shared``
    holds look-ups several rules of one scan need (read once per scan)."""

    site_code: str | None
    local_date: date
    config: Mapping[str, Any]
    shared: dict[str, Any] = field(default_factory=dict)
    # (site, rule, dedupe key) of what this scan found before the rule runs, not yet
    # stored: the weekly digests, which run last, count it with what is stored. In a
    # scan of many sites, the list of every site of the day (``ManySites.planned``).
    planned: list[tuple[str | None, str, str]] = field(default_factory=list)
    # Set when the scan covers many sites: each statement's rows for all of them.
    many: ManySites | None = None
    # A real scan: a rule may leave out in SQL the rows whose reminders are all
    # stored (:func:`unstored`), so that a day finding only what is stored builds
    # nothing for it. Dry runs see everything found.
    new_only: bool = False
    # A real scan of a digest day (with ``new_only``): the reminders stored in the
    # digest's seven days are counted by the digest in SQL, so the rules leave out only
    # those; one stored before them and found again is counted from the findings.
    digest_day: date | None = None

    def new_only_rules(self, names: Iterable[str]) -> tuple[str, ...] | None:
        """The active per-site rules among ``names`` whose stored reminders a real
        scan leaves out in SQL, or None when every row is wanted (``new_only`` unset)."""
        if not self.new_only:
            return None
        wanted = set(names)
        return tuple(
            rule.name for rule in active_rules(self.config, trial_wide=False) if rule.name in wanted
        )


# A text (message id and values, see trialdm.reminders.texts) or plain words, or a
# function giving it (``texts.later``): put together only when the reminder is new
# or read, not for the many a scan finds stored already.
Words = Text | str | Callable[[], Text | str]


def resolved(words: Words) -> Text | str:
    return words() if callable(words) else words


def site_rows(
    session: Session, scan: ScanContext, name: str, statement: Callable[[], Select], site: Any
) -> list[Row[Any]]:
    """The rows of a rule's ``statement`` at the scan's site, ``site`` being the
    column holding the site. In a scan of many sites the statement runs once for all
    the sites of the day (their rows grouped by site, in the statement's order)."""
    if scan.many is None:
        return list(session.execute(statement().where(site == scan.site_code)))
    many = scan.many
    return many.rows(
        session,
        name,
        scan.local_date,
        lambda: (
            statement()
            .where(site.in_(many.sites_on(scan.local_date)))
            .add_columns(site.label("scan_site"))
        ),
        "scan_site",
        scan.site_code,
    )


class iso_day(FunctionElement[str]):
    """A date column as ``YYYY-MM-DD`` text, as ``date.isoformat`` writes it in keys."""

    type = String()
    name = "iso_day"
    inherit_cache = True


@compiles(iso_day)
def _iso_day(element: iso_day, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"  # SQLite: dates are text


@compiles(iso_day, "postgresql")
def _iso_day_pg(element: iso_day, compiler: Any, **kw: Any) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM-DD')"


def unstored(
    rule: str, subject_type: str, subject_id: Any, period: Any, digest_day: date | None = None
) -> ColumnElement[bool]:
    """No reminder is stored under the dedupe key the scan gives a finding of ``rule``
    (:meth:`Rule.dedupe_key`), its parts being SQL expressions or plain values: the
    filter of a rule's rows in a scan that wants only new reminders. ``digest_day``:
    none stored in the seven days ending with it (see ``ScanContext.digest_day``)."""
    from trialdm.reminders.models import Reminder

    parts = [
        literal(f"{rule}:{subject_type}:"),
        cast(subject_id, String),
        literal(":"),
        period if isinstance(period, ColumnElement) else literal(str(period)),
    ]
    key = parts[0]
    for part in parts[1:]:
        key = key + part
    # the table, not the entity: no site scoping (a key is stored once, at any site)
    table = Reminder.__table__
    stored = table.c.dedupe_key == key
    if digest_day is not None:
        stored = and_(stored, in_digest_week(table.c.local_date, digest_day))
    return ~exists().where(stored)


@dataclass(frozen=True)
class Finding:
    subject_type: str
    subject_id: str
    period: str
    title: Words
    body: Words = ""
    link: str = ""
    # Users who get this one besides the rule's audience (e.g. a step's assignee).
    also_to: tuple[int, ...] = ()
    # Roles at the site who get this one besides the rule's audience (e.g. the site
    # lead when a step is overdue).
    also_roles: tuple[str, ...] = ()
    # Users who never get this one (e.g. the reviewer who already approved).
    not_to: tuple[int, ...] = ()


class Rule:
    """A reminder rule. Subclasses set ``name``, ``label``, ``audience`` (roles at
    the site, or ``coordinator`` for trial-wide rules), ``settings`` (the names in
    :mod:`trialdm.config` it reads) and implement :meth:`findings` with one query."""

    name: ClassVar[str]
    label: ClassVar[str]
    audience: ClassVar[tuple[str, ...]] = SITE_TEAM
    settings: ClassVar[tuple[str, ...]] = ()
    trial_wide: ClassVar[bool] = False

    def findings(self, session: Session, scan: ScanContext) -> Iterable[Finding]:
        raise NotImplementedError

    def dedupe_key(self, finding: Finding) -> str:
        return f"{self.name}:{finding.subject_type}:{finding.subject_id}:{finding.period}"


RULES: dict[str, Rule] = {}


def register(cls: type[Rule]) -> type[Rule]:
    RULES[cls.name] = cls()
    return cls


def active_rules(config: Mapping[str, Any], *, trial_wide: bool) -> list[Rule]:
    """The rules of a scan, the digests last (they count what the others found)."""
    disabled = set(config.get("REMINDER_DISABLED_RULES") or ())
    rules = [
        rule
        for name, rule in RULES.items()
        if name not in disabled and rule.trial_wide == trial_wide
    ]
    return sorted(rules, key=lambda rule: rule.name in DIGEST_RULES)


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def rule_label(name: str) -> str:
    rule = RULES.get(name)
    return rule.label if rule else name


def as_date(value: Any) -> date | None:
    """A date column's value (SQLite may hand back text from computed columns)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


# Rules kept in their own modules register themselves on import.
from trialdm.reminders import (  # noqa: E402, F401
    query_rules,
    rules_assessments,
    rules_contacts,
    rules_digest,
    rules_translation,
)
