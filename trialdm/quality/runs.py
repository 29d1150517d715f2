"""Running the checks: each rule is one SQL statement over a site's participants (or
one participant's, on save); each failure not queried before opens a query."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from flask import current_app
from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    extract,
    func,
    literal,
    not_,
    null,
    or_,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from trialdm.contacts.models import ContactAttendance, ContactSession
from trialdm.core.models import utcnow
from trialdm.core.sqldates import add_months, days_between
from trialdm.core.tasks import enqueue
from trialdm.instruments.definitions import FieldDefinition, InstrumentDefinition
from trialdm.instruments.models import InstrumentResponse, InstrumentVersion, ResponseAnswer
from trialdm.instruments.queries import latest_versions
from trialdm.instruments.record import record_value_sql
from trialdm.participants.models import Participant
from trialdm.quality.checks import EXTENSION_KEY, OPS, Rule, Term
from trialdm.quality.models import DataQuery
from trialdm.quality.operations import open_check_query
from trialdm.sites.models import Site
from trialdm.sites.queries import site_today


@dataclass(frozen=True)
class Failure:
    rule: Rule
    site_code: str
    participant_id: int
    response_id: int | None
    contact_id: int | None
    contact_date: date | None
    left: Any
    right: Any

    @property
    def check_key(self) -> str:
        return (
            f"{self.rule.name}:{self.participant_id}:{self.response_id or ''}:"
            f"{self.contact_id or ''}"
        )

    def question(self) -> str:
        shown = f"{self.rule.left.text} = {_shown(self.left)}"
        if self.rule.right is not None:
            shown += f", {self.rule.right.text} = {_shown(self.right)}"
        if self.contact_id is not None:
            shown += f"; contact session {self.contact_id} on {self.contact_date}"
        return f"{self.rule.message} ({shown})"


def _shown(value: Any) -> str:
    if value is None:
        return "missing"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class _Compiler:
    """Turns a rule's terms into columns over Participant with the joins they need."""

    def __init__(self, answer_fields: Mapping[tuple[str, str], AnswerField]) -> None:
        self.answer_fields = answer_fields
        self.responses: dict[tuple[str, str], Any] = {}
        self.answers: dict[tuple[str, str, str], Any] = {}
        self.contacts: tuple[Any, Any] | None = None

    def _response(self, term: Term):
        key = (term.instrument, term.event)
        if key not in self.responses:
            self.responses[key] = aliased(InstrumentResponse)
        return self.responses[key]

    def _answer(self, term: Term):
        self._response(term)
        key = (term.instrument, term.event, term.name)
        if key not in self.answers:
            self.answers[key] = aliased(ResponseAnswer)
        return self.answers[key]

    def column(self, term: Term) -> ColumnElement[Any]:
        p = Participant
        if term.kind == "literal":
            return literal(term.value)
        if term.kind == "participant":
            return getattr(p, term.name)
        if term.kind == "derived" and term.name == "age_at_enrolment":
            # A year of birth gives the age at enrolment to within a year; a record
            # with the age instead holds it as given at enrolment.
            years = extract("year", p.enrolment_date) - p.year_of_birth
            return func.coalesce(years, p.age)
        if term.kind == "derived":  # intervention_end
            months = int(current_app.config["INTERVENTION_WINDOW_MONTHS"])
            return add_months(p.intervention_start, months)
        if term.kind == "response":
            return self._response(term).collected_on
        if term.kind == "answer":
            answer = self._answer(term)
            found = self.answer_fields.get((term.instrument, term.name))
            kind = found.field.type if found is not None else "number"
            if kind == "date":
                stored = answer.value_date
            elif kind in ("text", "single_choice", "multiple_choice"):
                stored = answer.value_text
            else:
                stored = answer.value_number
            bound = self._bound_here(term)
            if found is None or found.binding is None or bound is None:
                return stored
            # the record's value for responses of a version that binds the field
            return case((bound, record_value_sql(found.binding, found.instrument)), else_=stored)
        self.contacts = self.contacts or (aliased(ContactAttendance), aliased(ContactSession))
        return self.contacts[1].date

    def _bound_here(self, term: Term) -> ColumnElement[bool] | None:
        """Whether the term's response is of a version whose item is bound to the
        participant record (trialdm.instruments.record), which then holds the value
        and the response no answer row; None when no version binds it."""
        found = self.answer_fields.get((term.instrument, term.name))
        if found is None or not found.bound_versions:
            return None
        return self._response(term).instrument_version_id.in_(found.bound_versions)

    def unanswered(self, term: Term) -> ColumnElement[bool]:
        stored = self.answers[(term.instrument, term.event, term.name)].id.is_(None)
        bound = self._bound_here(term)
        found = self.answer_fields.get((term.instrument, term.name))
        if bound is None or found is None or found.binding is None:
            return stored
        response = self._response(term).id
        on_record = and_(bound, record_value_sql(found.binding, found.instrument).is_(None))
        return or_(response.is_(None), on_record, and_(not_(bound), stored))

    def response_id(self, term: Term | None) -> ColumnElement[Any]:
        if term is not None and term.kind in ("response", "answer"):
            return self._response(term).id
        return null()

    def joined(self, stmt: Select) -> Select:
        p = Participant
        for (instrument, event), r in self.responses.items():
            stmt = stmt.outerjoin(
                r,
                and_(
                    r.participant_id == p.id,
                    r.instrument_name == instrument,
                    r.event == event,
                    r.deleted_at.is_(None),
                ),
            )
        for (instrument, event, name), a in self.answers.items():
            r = self.responses[(instrument, event)]
            stmt = stmt.outerjoin(a, and_(a.response_id == r.id, a.field == name, a.position == 0))
        if self.contacts is not None:
            attendance, contact = self.contacts
            stmt = stmt.join(attendance, attendance.participant_id == p.id).join(
                contact, and_(contact.id == attendance.session_id, contact.deleted_at.is_(None))
            )
        return stmt


def _event_months(name: str) -> int:
    from trialdm.schedule.queries import schedule_events

    for event in schedule_events(current_app.config):
        if event.name == name:
            return event.months
    raise LookupError(name)


def _rule_parts(
    rule: Rule, compiler: _Compiler, today: date
) -> tuple[ColumnElement[bool], ColumnElement[Any], ColumnElement[Any]]:
    """``(failing, left, right)`` of a rule over Participant; joins noted in ``compiler``."""
    p = Participant
    left = compiler.column(rule.left)
    right = compiler.column(rule.right) if rule.right is not None else null()
    if rule.kind == "compare":
        assert rule.right is not None
        failing = and_(left.is_not(None), right.is_not(None), not_(OPS[rule.op](left, right)))
    elif rule.kind == "range":
        outside = []
        if rule.low is not None:
            outside.append(left < rule.low)
        if rule.high is not None:
            outside.append(left > rule.high)
        failing = and_(left.is_not(None), or_(*outside))
    else:  # required: the event's window has closed and the answer is not there
        window = int(current_app.config["SCHEDULE_WINDOW_DAYS"])
        due = add_months(p.enrolment_date, _event_months(rule.left.event))
        failing = and_(
            p.enrolment_date.is_not(None),
            days_between(due, literal(today)) > window,
            or_(p.withdrawal_date.is_(None), days_between(p.withdrawal_date, due) < -window),
            compiler.unanswered(rule.left),
        )
    return failing, left, right


def _participants_filter(
    stmt: Select, site_code: str | None, participant_ids: list[int] | None
) -> Select:
    p = Participant
    stmt = stmt.where(p.deleted_at.is_(None))
    if site_code is not None:
        stmt = stmt.where(p.site_code == site_code)
    if participant_ids is not None:
        stmt = stmt.where(p.id.in_(participant_ids))
    return stmt


def rule_statement(
    rule: Rule,
    answer_fields: Mapping[tuple[str, str], AnswerField],
    *,
    site_code: str | None,
    participant_ids: list[int] | None,
    today: date,
) -> Select:
    """The participants (and contacts) that fail ``rule``: one SQL statement."""
    p = Participant
    compiler = _Compiler(answer_fields)
    failing, left, right = _rule_parts(rule, compiler, today)
    contact_id: ColumnElement[Any] = null()
    contact_date: ColumnElement[Any] = null()
    if compiler.contacts is not None:
        contact_id = compiler.contacts[1].id
        contact_date = compiler.contacts[1].date
    stmt = select(
        p.id,
        p.site_code,
        compiler.response_id(rule.target),
        contact_id,
        contact_date,
        left,
        right,
    ).select_from(p)
    stmt = compiler.joined(stmt).where(failing, p.category.in_(rule.categories))
    return _participants_filter(stmt, site_code, participant_ids)


def reads_other_rows(rule: Rule) -> bool:
    """Whether a rule reads responses, answers or contacts (not the record alone)."""
    terms = (rule.left, rule.right, rule.target)
    return any(t is not None and t.kind in ("response", "answer", "contact") for t in terms)


def needs_other_rows(rule: Rule) -> bool:
    """Whether a rule can fail only when the participant has responses or contacts:
    a compare or range over such a term fails only when both sides have a value."""
    if rule.kind == "required" or not reads_other_rows(rule):
        return False
    sides = (rule.left, rule.right)
    return any(t is not None and t.kind in ("response", "answer", "contact") for t in sides)


def _record_failures(
    session: Session,
    rules: tuple[Rule, ...],
    *,
    site_code: str | None,
    participant_ids: list[int] | None,
    today: date,
) -> list[Failure]:
    """Rules over the record alone, all in one statement: per participant, each rule's
    flag and sides, for those who fail at least one."""
    p = Participant
    compiler = _Compiler({})
    columns: list[ColumnElement[Any]] = []
    flags = []
    for index, rule in enumerate(rules):
        failing, left, right = _rule_parts(rule, compiler, today)
        flag = and_(failing, p.category.in_(rule.categories))
        flags.append(flag)
        columns += [
            case((flag, 1), else_=0).label(f"f{index}"),
            left.label(f"l{index}"),
            right.label(f"r{index}"),
        ]
    stmt = select(p.id, p.site_code, *columns).where(or_(*flags))
    found = []
    for row in session.execute(_participants_filter(stmt, site_code, participant_ids)):
        pid, site = row[0], row[1]
        for index, rule in enumerate(rules):
            flag, left, right = row[2 + 3 * index : 5 + 3 * index]
            if flag:
                found.append(Failure(rule, site, pid, None, None, None, left, right))
    return found


def _record_value(participant: Participant, term: Term) -> Any:
    """A record term's value for a loaded participant, as :meth:`_Compiler.column`
    computes it in SQL."""
    if term.kind == "literal":
        return term.value
    if term.kind == "participant":
        return getattr(participant, term.name)
    if term.name == "age_at_enrolment":
        enrolled, born = participant.enrolment_date, participant.year_of_birth
        return (
            enrolled.year - born if enrolled is not None and born is not None else participant.age
        )
    start = participant.intervention_start  # intervention_end
    months = int(current_app.config["INTERVENTION_WINDOW_MONTHS"])
    return start + relativedelta(months=months) if start is not None else None


def record_failures_of(rules: tuple[Rule, ...], participants: list[Participant]) -> list[Failure]:
    """The failures of rules over the record alone for participants held in memory
    (just written by this transaction), without a statement: the same comparisons as
    :func:`_rule_parts`, where a missing value never fails."""
    found = []
    for participant in participants:
        if participant.deleted_at is not None:
            continue
        for rule in rules:
            if participant.category not in rule.categories:
                continue
            left = _record_value(participant, rule.left)
            right = _record_value(participant, rule.right) if rule.right is not None else None
            if rule.kind == "compare":
                failing = left is not None and right is not None and not OPS[rule.op](left, right)
            else:  # range
                failing = left is not None and (
                    (rule.low is not None and left < rule.low)
                    or (rule.high is not None and left > rule.high)
                )
            if failing:
                found.append(
                    Failure(
                        rule, participant.site_code, participant.id, None, None, None, left, right
                    )
                )
    return found


@dataclass(frozen=True)
class AnswerField:
    """A field of the newest version of an instrument, and where an answer to it is:
    for responses of ``bound_versions`` (ids), the participant record's, as
    ``binding`` declares; else in the response's answer rows."""

    field: FieldDefinition
    binding: FieldDefinition | None = None
    bound_versions: tuple[int, ...] = ()
    instrument: InstrumentDefinition | None = None  # of ``binding``


def _answer_fields(session: Session) -> dict[tuple[str, str], AnswerField]:
    found = {
        (version.name, f.name): AnswerField(f)
        for version in latest_versions(session)
        for f in version.parsed.fields
    }
    for version in session.scalars(select(InstrumentVersion).order_by(InstrumentVersion.version)):
        for f in version.parsed.bound_fields.values():
            known = found.get((version.name, f.name))
            if known is not None:
                ids = (*known.bound_versions, version.id)
                found[(version.name, f.name)] = AnswerField(known.field, f, ids, version.parsed)
    return found


def find_failures(
    session: Session,
    rules: tuple[Rule, ...],
    *,
    site_code: str | None = None,
    participant_ids: list[int] | None = None,
    today: date | None = None,
) -> list[Failure]:
    """Every failure of ``rules``: the rules over the record alone in one statement,
    each other rule in one of its own."""
    today = today or date.today()
    where = {"site_code": site_code, "participant_ids": participant_ids, "today": today}
    on_record = tuple(r for r in rules if not reads_other_rows(r))
    found = _record_failures(session, on_record, **where) if on_record else []
    others = [r for r in rules if reads_other_rows(r)]
    # The instruments' field types are read only when a rule reads an answer.
    needs_types = any(
        t is not None and t.kind == "answer" for r in others for t in (r.left, r.right, r.target)
    )
    types = _answer_fields(session) if needs_types else {}
    for rule in others:
        stmt = rule_statement(rule, types, **where)
        for pid, site, response_id, contact_id, contact_date, left, right in session.execute(stmt):
            found.append(
                Failure(rule, site, pid, response_id, contact_id, contact_date, left, right)
            )
    return found


def _target_field(failure: Failure) -> str | None:
    """The field the query points at: of the record, or of the response when there
    is one (a missing response leaves the query on the record as a whole)."""
    target = failure.rule.target
    if target is None:
        return None
    if target.kind == "participant":
        return target.name
    if target.kind in ("response", "answer") and failure.response_id is not None:
        return target.name
    return None


def open_queries_for(session: Session, failures: list[Failure]) -> int:
    """Open a query for each failure not queried before; returns how many opened.
    Safe to repeat and to run twice at once (the check key is unique)."""
    if not failures:
        return 0
    keys = {f.check_key for f in failures}
    known = set(session.scalars(select(DataQuery.check_key).where(DataQuery.check_key.in_(keys))))
    opened = 0
    for failure in failures:
        if failure.check_key in known:
            continue
        known.add(failure.check_key)
        try:
            with session.begin_nested():
                open_check_query(
                    session,
                    site_code=failure.site_code,
                    participant_id=failure.participant_id,
                    response_id=failure.response_id,
                    field=_target_field(failure),
                    rule_name=failure.rule.name,
                    check_key=failure.check_key,
                    question=failure.question(),
                )
        except IntegrityError:  # another run opened it a moment ago
            continue
        opened += 1
    return opened


@dataclass
class RunResult:
    site: str
    rules: int
    failures: int
    opened: int


def current_rules(*, on_save: bool = False) -> tuple[Rule, ...]:
    every = current_app.extensions[EXTENSION_KEY]
    return tuple(r for r in every if r.on_save) if on_save else every


def run_site(session: Session, site_code: str, today: date | None = None) -> RunResult:
    """Run every rule at one site, on ``today`` (by default the site's); each new
    failure opens a query."""
    rules = current_rules()
    today = today or site_today(session, site_code)
    failures = find_failures(session, rules, site_code=site_code, today=today)
    opened = open_queries_for(session, failures)
    session.flush()
    return RunResult(site_code, len(rules), len(failures), opened)


def queue_site_runs(session: Session, now: datetime | None = None) -> list[tuple[str, date]]:
    """Queue one check run per site for the site's local day (the nightly beat)."""
    now = now or utcnow()
    queued = []
    for code, zone in session.execute(select(Site.code, Site.timezone).order_by(Site.code)):
        local_day = now.astimezone(ZoneInfo(zone)).date()
        enqueue(session, "trialdm.quality.run_site", code, local_day.isoformat())
        queued.append((code, local_day))
    return queued
