"""A table file's population as SQL: the FROM of its unit (participants, or
members of qualitative sessions), each variable as a column expression, and the
multi-valued variables (diagnoses, multiple-choice answers) as (pid, value)
statements. Answers of instruments are outer joins of one aggregated subquery
each, so the statement count never depends on the number of people.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    Date,
    Float,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    select,
)
from sqlalchemy.sql import visitors

from trialdm.core.scoping import current_scope
from trialdm.core.sqldates import days_between, year_of
from trialdm.core.sqlite import WHOLE_TABLE
from trialdm.instruments.models import InstrumentResponse, ResponseAnswer
from trialdm.participants.models import Participant, ParticipantDiagnosis
from trialdm.qualitative.models import QualitativeMember, QualitativeSession
from trialdm.sites.models import Site
from trialdm.summaries.spec import BuildContext
from trialdm.summaries.specfiles import builtins
from trialdm.summaries.specfiles.model import Filter, TableFile, Variable
from trialdm.summaries.vocabulary import code_in_any

_ENTITIES = {"participant": Participant, "member": QualitativeMember, "session": QualitativeSession}
_SITE_FIELDS = {"code": Site.code, "name": Site.name, "country": Site.country}
VALUE_COLUMNS = {
    "number": ResponseAnswer.value_number,
    "date": ResponseAnswer.value_date,
    "text": ResponseAnswer.value_text,
}


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


def band_categories(var: Variable) -> tuple[tuple[str, str], ...]:
    """The printed bands in order: below, each band, above (or one per interval)."""
    if var.bands:
        first, last = var.bands[0][0], var.bands[-1][1]
        names = [f"{_plain(lo)}{var.separator}{_plain(hi)}" for lo, hi in var.bands]
        values = [f"<{_plain(first)}", *names, f">{_plain(last)}"]
    else:
        cuts = [_plain(c) for c in var.cuts]
        values = [f"<{cuts[0]}"]
        values += [f"{a}{var.separator}<{b}" for a, b in itertools.pairwise(cuts)]
        values.append(f"≥{cuts[-1]}")
    labels = var.band_labels or tuple(values)
    return tuple(zip(values, labels, strict=True))


class Frame:
    """One build's SQL view of a table file's population."""

    def __init__(self, table: TableFile, ctx: BuildContext) -> None:
        self.table = table
        self.ctx = ctx
        self.qualitative = table.population == "qualitative_members"
        self.joins: dict[str, tuple[Any, Any]] = {}
        self._expressions: dict[str, Any] = {}

    # --- the unit

    @property
    def pid(self) -> Any:
        if self.qualitative and self.table.unit == "member":
            return QualitativeMember.id
        return Participant.id

    @property
    def membership_order(self) -> Any:
        """The order in which a person's memberships were recorded."""
        return QualitativeMember.id

    def session_context(self) -> Any:
        """The ``context`` of a response given at this row's session: 'focus_group:12'."""
        return QualitativeSession.kind + literal(":") + cast(QualitativeSession.id, String)

    def base(self, *columns: Any, where: Sequence[Any] = ()) -> Select:
        if not self.qualitative:
            stmt = select(*columns).select_from(Participant)
            if self._reads_sites(*columns, *where):
                # Only for a site's fields: every participant has its site (a foreign
                # key, not null), so the join leaves the people as they are, and
                # without it a build does not look up each person's site.
                stmt = stmt.join(Site, Site.code == Participant.site_code)
            stmt = stmt.where(Participant.deleted_at.is_(None))
            if current_scope().every_site:
                # Every site's people: most of the table, read as a table (a site's
                # build keeps the site index).
                stmt = stmt.with_hint(Participant, WHOLE_TABLE, dialect_name="sqlite")
        else:
            member_on = and_(
                QualitativeMember.session_id == QualitativeSession.id,
                QualitativeMember.removed_at.is_(None),
            )
            stmt = select(*columns).select_from(QualitativeSession)
            stmt = stmt.join(Site, Site.code == QualitativeSession.site_code)
            if self.table.keep_empty_sessions:
                stmt = stmt.outerjoin(QualitativeMember, member_on)
            else:
                stmt = stmt.join(QualitativeMember, member_on)
            stmt = stmt.outerjoin(
                Participant,
                and_(
                    Participant.id == QualitativeMember.participant_id,
                    Participant.deleted_at.is_(None),
                ),
            ).where(QualitativeSession.deleted_at.is_(None))
        for sub, on in self.joins.values():
            stmt = stmt.outerjoin(sub, on)
        return stmt.where(*where)

    def _reads_sites(self, *clauses: Any) -> bool:
        """Whether the columns, the conditions or a joined answer read the sites table."""
        sites = Site.__table__
        joined = [part for sub, on in self.joins.values() for part in (sub, on)]
        return any(
            getattr(element, "table", None) is sites
            for clause in (*clauses, *joined)
            for element in visitors.iterate(clause)
        )

    # --- variables

    def expression(self, name: str) -> Any:
        if name not in self._expressions:
            self._expressions[name] = self._compile(self.table.variables[name])
        return self._expressions[name]

    def _at_date(self, at: str | None) -> Any:
        read_day = literal(self.ctx.read_at.date(), Date)
        if at == "session":
            return QualitativeSession.date
        if at == "enrolment":
            return func.coalesce(Participant.enrolment_date, read_day)
        return read_day

    def _compile(self, var: Variable) -> Any:
        if var.source in _ENTITIES:
            return getattr(_ENTITIES[var.source], var.field or "")
        if var.source == "site":
            return _SITE_FIELDS[var.field or ""]
        if var.source == "answer":
            return self._answer(var)
        if var.source == "first_of":
            return func.coalesce(*[self.expression(ref) for ref in var.of])
        if var.source == "age":
            return year_of(self._at_date(var.at)) - Participant.year_of_birth
        if var.source == "years_since":
            days = days_between(self.expression(var.of[0]), self._at_date(var.at))
            return cast(days, Float) / 365.25
        if var.source == "count":
            return self._count(self.table.variables[var.of[0]])
        if var.source == "band":
            return self._band(var, self.expression(var.of[0]))
        raise ValueError(f"variable {var.name} cannot be computed here")  # parse forbids it

    def _answer(self, var: Variable) -> Any:
        value = VALUE_COLUMNS[var.kind]
        keys = [InstrumentResponse.participant_id]
        conditions = self._answer_conditions(var)
        if var.at == "session":
            keys.append(InstrumentResponse.context)
        sub = (
            select(*keys, func.max(value).label("value"))
            .join(ResponseAnswer, ResponseAnswer.response_id == InstrumentResponse.id)
            .where(*conditions)
            .group_by(*keys)
            .subquery(f"answer_{var.name}")
        )
        on = sub.c.participant_id == Participant.id
        if var.at == "session":
            on = and_(on, sub.c.context == self.session_context())
        self.joins[var.name] = (sub, on)
        return sub.c.value

    @staticmethod
    def _answer_conditions(var: Variable) -> list[Any]:
        conditions = [
            InstrumentResponse.instrument_name == var.instrument,
            InstrumentResponse.deleted_at.is_(None),
            ResponseAnswer.field == var.field,
            ResponseAnswer.missing_code.is_(None),
        ]
        if var.event:
            conditions.append(InstrumentResponse.event == var.event)
        return conditions

    def _count(self, multi: Variable) -> Any:
        if multi.source == "participant":
            return (
                select(func.count(ParticipantDiagnosis.id))
                .where(ParticipantDiagnosis.participant_id == Participant.id)
                .scalar_subquery()
            )
        # Choices ticked in the person's response; no response: unknown, not zero.
        conditions = [
            InstrumentResponse.instrument_name == multi.instrument,
            InstrumentResponse.deleted_at.is_(None),
            InstrumentResponse.participant_id == Participant.id,
        ]
        if multi.event:
            conditions.append(InstrumentResponse.event == multi.event)
        if multi.at == "session":
            conditions.append(InstrumentResponse.context == self.session_context())
        ticked = and_(
            ResponseAnswer.response_id == InstrumentResponse.id,
            ResponseAnswer.field == multi.field,
            ResponseAnswer.missing_code.is_(None),
        )
        return (
            select(func.count(ResponseAnswer.id))
            .select_from(InstrumentResponse)
            .outerjoin(ResponseAnswer, ticked)
            .where(*conditions)
            .group_by(InstrumentResponse.id)
            .limit(1)
            .scalar_subquery()
        )

    @staticmethod
    def _band(var: Variable, value: Any) -> Any:
        categories = [v for v, _ in band_categories(var)]
        if var.bands:
            first, last = var.bands[0][0], var.bands[-1][1]
            whens = [(value < first, categories[0])]
            whens += [
                (value <= hi, label)
                for (_, hi), label in zip(var.bands, categories[1:-1], strict=True)
            ]
            whens.append((value > last, categories[-1]))
            return case(*whens, else_=None)
        whens = [(value < cut, label) for cut, label in zip(var.cuts, categories, strict=False)]
        return case(*whens, else_=categories[-1])

    def grouped(self, name: str, groups: tuple, other: str | None) -> Any:
        """The label of the group a code falls in (codes grouped into rows)."""
        code = self.expression(name)
        whens = [(code_in_any(code, codes), label) for label, codes in groups]
        return case(*whens, else_=literal(other, String) if other else None)

    def condition(self, name: str, rule: Filter) -> Any:
        value = self.expression(name)
        if rule.recorded is not None:
            return value.is_not(None) if rule.recorded else value.is_(None)
        if rule.between is not None:
            return value.between(*rule.between)
        return value.in_(rule.values)

    # --- multi-valued variables

    def multi_source(
        self, var: Variable, groups: tuple[tuple[str, tuple[str, ...]], ...] = (), other=None
    ) -> Callable[[BuildContext], Select]:
        """(pid, value[, text]) rows of a variable with several values per person;
        with ``groups``, the value is the label of the group its code falls in."""
        member_unit = self.qualitative and self.table.unit == "member"

        def statement(ctx: BuildContext) -> Select:
            if var.source == "participant":
                code = ParticipantDiagnosis.code
                text = ParticipantDiagnosis.text
                owner = ParticipantDiagnosis.participant_id
                stmt = select().select_from(ParticipantDiagnosis)
                conditions: list[Any] = []
            else:
                code = ResponseAnswer.value_text
                text = literal(None, String)
                owner = InstrumentResponse.participant_id
                stmt = select().select_from(InstrumentResponse)
                stmt = stmt.join(
                    ResponseAnswer, ResponseAnswer.response_id == InstrumentResponse.id
                )
                conditions = self._answer_conditions(var)
            pid = owner
            if member_unit or var.at == "session":
                stmt = stmt.join(QualitativeMember, QualitativeMember.participant_id == owner)
                conditions.append(QualitativeMember.removed_at.is_(None))
                pid = QualitativeMember.id if member_unit else owner
                if var.at == "session":
                    stmt = stmt.join(
                        QualitativeSession, QualitativeSession.id == QualitativeMember.session_id
                    )
                    conditions.append(InstrumentResponse.context == self.session_context())
            value: Any = code
            if groups:
                whens = [(code_in_any(code, codes), label) for label, codes in groups]
                value = case(*whens, else_=literal(other, String) if other else None)
            return stmt.add_columns(
                pid.label("pid"), value.label("value"), text.label("text")
            ).where(*conditions)

        return statement


def builtin_population(table: TableFile) -> Callable[[BuildContext], Any]:
    return builtins.POPULATIONS[table.population][0]
