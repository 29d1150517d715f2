"""What an export holds: datasets, their variables (the codebook) and their rows.

A dataset's rows are a generator of tuples in the order of its variables,
streamed from the database (``yield_per``): nothing holds every row of a table.
An instrument dataset is one statement that pivots the answer rows to one row
per response (an aggregate per column), so the number of queries does not grow
with participants.

Cell values are what the writers encode: ``None`` (blank), ``str``, ``int``,
``float``, ``date`` (or, in a date variable, its ISO text as SQLite gives it), or
:class:`~trialdm.instruments.definitions.Missing` (a missing-data code, written as
its number in :data:`MISSING_VALUES`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    Select,
    and_,
    case,
    cast,
    false,
    func,
    null,
    select,
    true,
    type_coerce,
)
from sqlalchemy.orm import Session

from trialdm.core.errors import N_, DomainError, Message, ValidationFailed
from trialdm.core.scoping import execute_scoped_rows
from trialdm.exports.missing_codes import missing_codes_sql, parse_missing_codes
from trialdm.instruments.definitions import (
    MISSING_CODES,
    FieldDefinition,
    InstrumentDefinition,
    Missing,
)
from trialdm.instruments.models import InstrumentResponse, InstrumentVersion, ResponseAnswer
from trialdm.instruments.record import derived_choice_sql, record_or_stored
from trialdm.participants.models import Participant

# Missing-data codes as numbers, declared as missing values in SPSS and labelled in
# every format. Negative, below every scale and count the instruments use.
MISSING_VALUES: dict[str, int] = {"not_asked": -7, "dont_know": -8, "refused": -9}
MISSING_LABELS: dict[int, str] = {MISSING_VALUES[c]: MISSING_CODES[c] for c in MISSING_VALUES}
KINDS = ("string", "code", "integer", "decimal", "date")
CHECKBOX_LABELS = ((0, N_("Unchecked")), (1, N_("Checked")))
YES_NO_LABELS = ((1, N_("Yes")), (0, N_("No")))
MISSING_CODE_SUFFIX = N_("missing-data code")
BATCH = 2000

Row = tuple[Any, ...]


@dataclass(frozen=True)
class Variable:
    """One column. ``code`` variables hold a stored code (``full_time``) whose
    choices are numbered 1, 2, ... in the order given, for SPSS and Stata."""

    name: str
    label: str
    kind: str
    choices: tuple[tuple[str, str], ...] = ()
    value_labels: tuple[tuple[int, str], ...] = ()
    unit: str | None = None
    minimum: Any = None
    maximum: Any = None
    instrument: str | None = None
    versions: str | None = None
    identifier: bool = False
    missing_codes: bool = False
    # the instrument field (and choice) this column comes from, for ODM items
    field: str | None = None
    choice: str | None = None
    translations: tuple[tuple[str, str], ...] = ()
    # a part of the label after the translated text (": missing-data code"), an
    # interface text the codebook translates apart from the instrument's wording
    suffix: str = ""
    # code -> its label in each language (instrument choices), for ODM decodes
    choice_translations: tuple[tuple[Any, tuple[tuple[str, str], ...]], ...] = ()

    def code_number(self, code: str) -> int:
        for number, (value, _) in enumerate(self.choices, start=1):
            if value == code:
                return number
        raise DomainError(
            Message(
                N_("Variable %(name)s: '%(code)s' is not one of its codes."),
                name=self.name,
                code=code,
            )
        )

    def numbered_labels(self) -> list[tuple[int, str]]:
        """Value labels of the number the stat formats store."""
        if self.kind == "code":
            labels = [(n, label) for n, (_, label) in enumerate(self.choices, start=1)]
        else:
            labels = list(self.value_labels)
        if self.missing_codes:
            labels += sorted(MISSING_LABELS.items(), reverse=True)
        return labels


@dataclass
class Dataset:
    name: str
    label: str
    variables: list[Variable]
    rows: Callable[[Session], Iterator[Row]]
    left_out: list[str] = field(default_factory=list)
    # instrument datasets: every stored version's definition, oldest first
    definitions: list[InstrumentDefinition] = field(default_factory=list)

    def without_identifiers(self) -> Dataset:
        keep = [i for i, v in enumerate(self.variables) if not v.identifier]
        if len(keep) == len(self.variables):
            return self
        source = self.rows

        def rows(session: Session) -> Iterator[Row]:
            for row in source(session):
                yield tuple(row[i] for i in keep)

        return replace(
            self,
            variables=[self.variables[i] for i in keep],
            rows=rows,
            left_out=[v.name for v in self.variables if v.identifier],
        )


def stream(session: Session, stmt: Select) -> Iterator[Any]:
    """The statement's rows in batches (a server-side cursor on PostgreSQL), as
    plain Core rows: run on the session's Connection, skipping the ORM's per-row
    result handling, which cost more than writing the row. Below the ORM the site
    filter's listener does not fire, so the same criteria are added here, the one
    place every export dataset reads through."""
    scoped = stmt.execution_options(yield_per=BATCH)
    for batch in execute_scoped_rows(session, scoped).partitions():
        yield from batch


def stream_raw(session: Session, stmt: Select) -> Iterator[Sequence[Any]]:
    """The statement's rows as the database driver gives them, for the largest
    datasets: SQLAlchemy compiles and runs the statement (site criteria as in
    :func:`stream`, a server-side cursor on PostgreSQL) but its per-cell result
    processing is skipped, which cost more than the database itself. So a date may
    come as its ISO text (SQLite stores it so) or as a ``date`` (PostgreSQL), a time
    as text or ``time``, a boolean as 0/1; the writers take either."""
    result = execute_scoped_rows(session, stmt.execution_options(stream_results=True))
    try:
        # a server-side cursor's strategy has read its first row ahead
        ahead = getattr(result.cursor_strategy, "_rowbuffer", None)
        if ahead:
            yield from list(ahead)
            ahead.clear()
        fetch = result.cursor.fetchmany
        while batch := fetch(BATCH):
            yield from batch
    finally:
        result.close()


def bytewise(session: Session, column: Any) -> Any:
    """``column`` ordered by its bytes, as Python orders strings, on every database
    (PostgreSQL's locale collations order 'BU-PSW-01' and 'BU-002' differently), so
    that datasets sorted by study ID can be merged subject by subject."""
    if session.get_bind().dialect.name == "postgresql":
        return column.collate("C")
    return column


def code_labels(codes: Iterable[str]) -> tuple[tuple[str, str], ...]:
    return tuple((code, code.replace("_", " ").capitalize()) for code in codes)


def as_date(value: Any) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, datetime):
        return value.date()
    return date.fromisoformat(str(value)[:10])


# ----------------------------------------------------------------- instruments


@dataclass
class _Column:
    """How one instrument field becomes SQL aggregates over its answer rows (the
    answers pivoted to one row per response): one aggregate per cell, so that a
    response's row comes from the database as the dataset holds it. Missing-data
    codes, rare, come apart (:func:`missing_codes_sql`) and replace the cells."""

    field: FieldDefinition
    variables: list[Variable]
    stored: Sequence[InstrumentVersion] = ()

    def _cell(self, mine: Any, column: Any) -> Any:  # the stored answer or the record's
        return func.max(record_or_stored(self.stored, self.field.name, mine, column))

    def sql(self, answers: Any) -> list[Any]:
        f = self.field
        mine = and_(answers.c.field == f.name, answers.c.computed.is_(false()))
        if f.type == "multiple_choice":
            # NULL (blank) when the field has no answer row, else 1 or 0 per choice;
            # a derived item's from the record's diagnoses (instruments.record)
            cells = []
            for v in self.variables:
                cell: Any = case((mine, case((answers.c.value_text == v.choice, 1), else_=0)))
                derived = derived_choice_sql(self.stored, f, v.choice or "")
                if derived is not None:
                    cell = case((derived[0], derived[1]), else_=cell)
                cells.append(func.max(cell))
            return cells
        if f.type in ("single_choice", "text"):
            return [self._cell(mine, answers.c.value_text)]
        if f.type == "date":
            # the second cell, the date's missing-data code, is blank unless missing
            return [type_coerce(func.max(case((mine, answers.c.value_date))), Date), null()]
        value = self._cell(mine, answers.c.value_number)
        if f.type == "decimal":
            return [value]
        # Whole numbers are stored as floats (value_number) holding integers only,
        # as the answers module writes and reads them, so the cast is exact.
        return [cast(value, BigInteger)]

    @property
    def width(self) -> int:
        return len(self.variables)

    def missing_cells(self, code: str) -> tuple[Any, ...]:
        """The cells of this field when its answer is the missing-data ``code``."""
        if self.field.type == "date":
            return (None, Missing(code))
        return (Missing(code),) * len(self.variables)


def _merged_field(definitions: Sequence[InstrumentDefinition], name: str) -> FieldDefinition:
    """The newest version's field with the choices of every version (newest order
    first); a field whose type changed between versions cannot share a column."""
    found = [d.field(name) for d in definitions if d.field(name) is not None]
    newest = found[-1]
    assert newest is not None
    for older in found[:-1]:
        assert older is not None
        if older.type != newest.type:
            raise ValidationFailed(
                Message(
                    N_(
                        "Field %(field)s of instrument %(instrument)s is %(type)s in one version "
                        "and %(type2)s in another; one column cannot hold both."
                    ),
                    field=name,
                    instrument=definitions[-1].name,
                    type=older.type,
                    type2=newest.type,
                ),
                errors={
                    "datasets": [
                        Message(
                            N_("Export %(name)s per version instead."), name=definitions[-1].name
                        )
                    ]
                },
            )
    choices = list(newest.choices)
    known = {c.value for c in choices}
    for older in reversed(found[:-1]):
        for choice in older.choices:  # type: ignore[union-attr]
            if choice.value not in known:
                choices.append(choice)
                known.add(choice.value)
    return replace(newest, choices=tuple(choices))


def _translated(f: FieldDefinition) -> tuple[tuple[Any, tuple[tuple[str, str], ...]], ...]:
    return tuple((c.value, tuple(sorted(c.label.items()))) for c in f.choices)


def _field_variables(f: FieldDefinition, instrument: str, versions: str) -> list[Variable]:
    label = f.label.get("en", f.name)
    base = Variable(
        name=f.name,
        label=label,
        kind="string",
        instrument=instrument,
        versions=versions,
        identifier=f.identifier,
        missing_codes=True,
        field=f.name,
        translations=tuple(sorted(f.label.items())),
        unit=f.units,
        minimum=f.min,
        maximum=f.max,
    )
    if f.type == "multiple_choice":
        return [
            replace(
                base,
                name=f"{f.name}___{c.value}",
                label=f"{label}: {c.label.get('en', c.value)}",
                kind="integer",
                value_labels=CHECKBOX_LABELS,
                choice=c.value,
                translations=tuple(
                    (lang, f"{text}: {c.label.get(lang, c.label.get('en', c.value))}")
                    for lang, text in sorted(f.label.items())
                ),
            )
            for c in f.choices
        ]
    if f.type == "single_choice":
        choices = tuple((c.value, c.label.get("en", c.value)) for c in f.choices)
        return [replace(base, kind="code", choices=choices, choice_translations=_translated(f))]
    if f.type == "yes_no":
        return [replace(base, kind="integer", value_labels=YES_NO_LABELS)]
    if f.type == "scale":
        labels = tuple((int(c.value), c.label.get("en", str(c.value))) for c in f.choices)
        return [
            replace(base, kind="integer", value_labels=labels, choice_translations=_translated(f))
        ]
    if f.type in ("integer", "decimal"):
        return [replace(base, kind=f.type)]
    if f.type == "date":
        return [
            replace(base, kind="date", missing_codes=False),
            replace(
                base,
                name=f"{f.name}_missing",
                label=f"{label}: {MISSING_CODE_SUFFIX}",
                kind="integer",
                minimum=None,
                maximum=None,
                suffix=MISSING_CODE_SUFFIX,
            ),
        ]
    return [base]


def instrument_names(session: Session) -> list[str]:
    return list(session.scalars(select(InstrumentVersion.name).distinct().order_by("name")))


def instrument_dataset(session: Session, name: str) -> Dataset:
    stored = list(
        session.scalars(
            select(InstrumentVersion)
            .where(InstrumentVersion.name == name)
            .order_by(InstrumentVersion.version)
        )
    )
    definitions = [v.parsed for v in stored]
    newest = definitions[-1]
    versions = ", ".join(str(v.version) for v in stored)
    names = [f.name for f in newest.fields]
    for older in reversed(definitions[:-1]):
        names += [f.name for f in older.fields if f.name not in names]
    columns = [
        _Column(field, _field_variables(field, name, versions), stored)
        for field in (_merged_field(definitions, n) for n in names)
    ]
    score_names: list[str] = []
    score_vars: list[Variable] = []
    for definition in reversed(definitions):
        for score in definition.scores:
            if score.name not in score_names:
                score_names.append(score.name)
                score_vars.append(
                    Variable(
                        score.name,
                        score.label.get("en", score.name),
                        "decimal",
                        instrument=name,
                        versions=versions,
                        field=score.name,
                        translations=tuple(sorted(score.label.items())),
                    )
                )
    head = response_head_variables(name, versions)
    variables = head + [v for c in columns for v in c.variables] + score_vars
    seen: set[str] = set()
    for v in variables:
        if v.name in seen:
            raise ValidationFailed(
                Message(
                    N_("Instrument %(name)s: two columns would be called %(name2)s."),
                    name=name,
                    name2=v.name,
                ),
                errors={
                    "datasets": [
                        Message(
                            N_("Rename the field %(name)s of %(name2)s."), name=v.name, name2=name
                        )
                    ]
                },
            )
        seen.add(v.name)

    # The plain answers table: the ORM's site criteria for an outer-joined entity
    # would go into WHERE and drop responses without answers; answers share their
    # response's site, which the ORM filter restricts.
    answers = ResponseAnswer.__table__
    score_sql = [
        func.max(
            case(
                (and_(answers.c.field == s, answers.c.computed.is_(true())), answers.c.value_number)
            )
        )
        for s in score_names
    ]
    head = (
        Participant.study_id,
        InstrumentResponse.site_code,
        Participant.arm,
        InstrumentResponse.event,
        InstrumentVersion.version,
        InstrumentResponse.status,
        InstrumentResponse.collected_on,
    )
    stmt = (
        select(
            *head,
            *(c for column in columns for c in column.sql(answers)),
            *score_sql,
            missing_codes_sql(answers),
        )
        .join(Participant, Participant.id == InstrumentResponse.participant_id)
        .join(InstrumentVersion, InstrumentVersion.id == InstrumentResponse.instrument_version_id)
        .outerjoin(answers, answers.c.response_id == InstrumentResponse.id)
        .where(
            InstrumentResponse.instrument_name == name,
            InstrumentResponse.deleted_at.is_(None),
            Participant.deleted_at.is_(None),
        )
        .group_by(InstrumentResponse.id, *head)
        .order_by(bytewise(session, Participant.study_id), InstrumentResponse.id)
    )
    # where each field's cells start in a row, to put missing-data codes in
    places: dict[str, tuple[int, _Column]] = {}
    at = len(head)
    for column in columns:
        places[column.field.name] = (at, column)
        at += column.width

    def rows(session: Session) -> Iterator[Row]:
        for r in stream_raw(session, stmt):
            codes = r[-1]
            if codes is None:
                yield tuple(r[:-1])
                continue
            row = list(r[:-1])
            for field_name, code in parse_missing_codes(codes).items():
                if field_name in places:
                    begin, column = places[field_name]
                    row[begin : begin + column.width] = column.missing_cells(code)
            yield tuple(row)

    title = newest.title.get("en", name)
    return Dataset(name, title, variables, rows, definitions=definitions)


def response_head_variables(instrument: str, versions: str) -> list[Variable]:
    from trialdm.instruments.models import RESPONSE_STATUSES
    from trialdm.participants.vocabulary import ARMS

    return [
        Variable("study_id", N_("Study ID"), "string"),
        Variable("site", N_("Site"), "string"),
        Variable("arm", N_("Arm"), "code", choices=code_labels(ARMS)),
        Variable("event", N_("Schedule event"), "string"),
        Variable("instrument_version", N_("Instrument version"), "integer", instrument=instrument),
        Variable("status", N_("Response status"), "code", choices=code_labels(RESPONSE_STATUSES)),
        Variable("collected_on", N_("Collected on"), "date"),
    ]
