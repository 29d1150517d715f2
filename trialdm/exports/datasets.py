"""What an export holds: datasets, their variables (the codebook) and their rows.

A dataset's rows are a generator of tuples in the order of its variables,
streamed from the database (``yield_per``): nothing holds every row of a table.
Instrument datasets read responses and answers as two streams in the same order
and merge them, so the number of queries does not grow with participants.

Cell values are what the writers encode: ``None`` (blank), ``str``, ``int``,
``float``, ``date``, or :class:`~trialdm.instruments.definitions.Missing` (a
missing-data code, written as its number in :data:`MISSING_VALUES`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from trialdm.core.errors import DomainError
from trialdm.instruments.definitions import (
    MISSING_CODES,
    FieldDefinition,
    InstrumentDefinition,
    Missing,
)
from trialdm.instruments.models import InstrumentVersion, Response, ResponseAnswer
from trialdm.participants.models import Participant

# Missing-data codes as numbers, declared as missing values in SPSS and labelled in
# every format. Negative, below every scale and count the instruments use.
MISSING_VALUES: dict[str, int] = {"not_asked": -7, "dont_know": -8, "refused": -9}
MISSING_LABELS: dict[int, str] = {MISSING_VALUES[c]: MISSING_CODES[c] for c in MISSING_VALUES}
KINDS = ("string", "code", "integer", "decimal", "date")
CHECKBOX_LABELS = ((0, "Unchecked"), (1, "Checked"))
YES_NO_LABELS = ((1, "Yes"), (0, "No"))
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
    # code -> its label in each language (instrument choices), for ODM decodes
    choice_translations: tuple[tuple[Any, tuple[tuple[str, str], ...]], ...] = ()

    def code_number(self, code: str) -> int:
        for number, (value, _) in enumerate(self.choices, start=1):
            if value == code:
                return number
        raise DomainError(f"Variable {self.name}: '{code}' is not one of its codes.")

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
    """The statement's rows in batches (a server-side cursor on PostgreSQL)."""
    yield from session.execute(stmt.execution_options(yield_per=BATCH))


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
    """How one instrument field becomes one or more columns."""

    field: FieldDefinition
    variables: list[Variable]

    def cells(self, answers: list[Any] | None) -> list[Any]:
        f = self.field
        width = len(self.variables)
        if not answers:
            return [None] * width
        first = answers[0]
        if first.missing_code:
            missing = Missing(first.missing_code)
            return [None, missing] if f.type == "date" else [missing] * width
        if f.type == "multiple_choice":
            chosen = {a.value_text for a in answers}
            return [1 if v.choice in chosen else 0 for v in self.variables]
        if f.type in ("single_choice", "text"):
            return [first.value_text]
        if f.type == "date":
            return [as_date(first.value_date), None]
        if f.type == "yes_no":
            return [None if first.value_number is None else int(first.value_number)]
        if f.type == "decimal" or first.value_number is None:
            return [first.value_number]
        return [int(first.value_number)]


def _merged_field(definitions: Sequence[InstrumentDefinition], name: str) -> FieldDefinition:
    """The newest version's field with the choices of every version (newest order
    first); a field whose type changed between versions cannot share a column."""
    found = [d.field(name) for d in definitions if d.field(name) is not None]
    newest = found[-1]
    assert newest is not None
    for older in found[:-1]:
        assert older is not None
        if older.type != newest.type:
            raise DomainError(
                f"Field {name} of instrument {definitions[-1].name} is {older.type} in one "
                f"version and {newest.type} in another; one column cannot hold both.",
                errors={"datasets": [f"Export {definitions[-1].name} per version instead."]},
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
                label=f"{label}: missing-data code",
                kind="integer",
                minimum=None,
                maximum=None,
                translations=(),
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
    version_of = {v.id: v.version for v in stored}
    newest = definitions[-1]
    versions = ", ".join(str(v.version) for v in stored)
    names = [f.name for f in newest.fields]
    for older in reversed(definitions[:-1]):
        names += [f.name for f in older.fields if f.name not in names]
    columns = [
        _Column(field, _field_variables(field, name, versions))
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
            raise DomainError(
                f"Instrument {name}: two columns would be called {v.name}.",
                errors={"datasets": [f"Rename the field {v.name} of {name}."]},
            )
        seen.add(v.name)

    live = (
        Response.instrument_name == name,
        Response.deleted_at.is_(None),
        Participant.deleted_at.is_(None),
    )
    responses = (
        select(
            Response.id,
            Participant.study_id,
            Response.site_code,
            Participant.arm,
            Response.event,
            Response.instrument_version_id,
            Response.status,
            Response.collected_on,
        )
        .join(Participant, Participant.id == Response.participant_id)
        .where(*live)
        .order_by(bytewise(session, Participant.study_id), Response.id)
    )
    answers = (
        select(
            ResponseAnswer.response_id,
            ResponseAnswer.field,
            ResponseAnswer.value_text,
            ResponseAnswer.value_number,
            ResponseAnswer.value_date,
            ResponseAnswer.missing_code,
            ResponseAnswer.computed,
        )
        .join(Response, Response.id == ResponseAnswer.response_id)
        .join(Participant, Participant.id == Response.participant_id)
        .where(*live)
        .order_by(
            bytewise(session, Participant.study_id),
            ResponseAnswer.response_id,
            ResponseAnswer.field,
            ResponseAnswer.position,
        )
    )

    def rows(session: Session) -> Iterator[Row]:
        pending = stream(session, answers)
        answer = next(pending, None)
        for r in stream(session, responses):
            by_field: dict[str, list[Any]] = {}
            scores: dict[str, float | None] = {}
            while answer is not None and answer.response_id == r.id:
                if answer.computed:
                    scores[answer.field] = answer.value_number
                else:
                    by_field.setdefault(answer.field, []).append(answer)
                answer = next(pending, None)
            row: list[Any] = [
                r.study_id,
                r.site_code,
                r.arm,
                r.event,
                version_of.get(r.instrument_version_id),
                r.status,
                as_date(r.collected_on),
            ]
            for column in columns:
                row += column.cells(by_field.get(column.field.name))
            row += [scores.get(s) for s in score_names]
            yield tuple(row)

    title = newest.title.get("en", name)
    return Dataset(name, title, variables, rows, definitions=definitions)


def response_head_variables(instrument: str, versions: str) -> list[Variable]:
    from trialdm.instruments.models import RESPONSE_STATUSES
    from trialdm.participants.vocabulary import ARMS

    return [
        Variable("study_id", "Study ID", "string"),
        Variable("site", "Site", "string"),
        Variable("arm", "Arm", "code", choices=code_labels(ARMS)),
        Variable("event", "Schedule event", "string"),
        Variable("instrument_version", "Instrument version", "integer", instrument=instrument),
        Variable("status", "Response status", "code", choices=code_labels(RESPONSE_STATUSES)),
        Variable("collected_on", "Collected on", "date"),
    ]
