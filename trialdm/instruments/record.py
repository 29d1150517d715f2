"""Items bound to the participant record (``record_field`` in an instrument file): the
record is their one source of truth.

* Shown: a bound item's value is the record's (:func:`record_answers`), for a new
  questionnaire as for a saved one, on the pages, the self-report form and the API.
* Saved: a bound item's answer is written to the record by the participants domain's
  own :func:`~trialdm.participants.operations.update_participant` (site check,
  version, validation, the other domains' change checks, audit with the reason given);
  a value the record refuses is a field error of the answer.
* Stored: nowhere else. A response keeps no answer row for a bound item, so there is
  no second copy that could disagree: every reader of answers (pages, API, REDCap,
  item-level exports, quality rules) reads the item back from the record, a table file
  is told to read the record's field itself, and a record edited on the participant's
  page shows in the questionnaire at once.

The binding belongs to an instrument version, and a stored version never changes:
responses of an older version that did not bind the item keep the answer they stored,
and every reader shows them that one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import String, case, exists, func, literal, not_, or_, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from trialdm.core.audit import audit_context, current_audit_context
from trialdm.core.errors import N_, ValidationFailed
from trialdm.core.versions import another_record
from trialdm.instruments.answers import to_json
from trialdm.instruments.definitions import FieldDefinition, InstrumentDefinition, Missing
from trialdm.instruments.definitions.derived import (
    CATCH_ALL,
    OTHER_SEPARATOR,
    RANGE,
    group_parts,
    grouped,
    others_text,
)
from trialdm.instruments.models import InstrumentResponse
from trialdm.participants.models import Participant, ParticipantDiagnosis
from trialdm.participants.operations import update_participant


def record_answers(definition: InstrumentDefinition, participant: Participant) -> dict[str, Any]:
    """item name -> the record's value as the item's answer (None when the record is blank);
    for an item derived from the record (:mod:`~trialdm.instruments.definitions.derived`),
    the value derived from it."""
    return {
        name: derived_value(definition, f, participant)
        if f.derived
        else f.from_record(getattr(participant, f.record_field))
        for name, f in definition.bound_fields.items()
        if f.record_field
    }


def derived_value(
    definition: InstrumentDefinition, f: FieldDefinition, participant: Participant
) -> Any:
    """A derived item's value: the record's diagnoses as the item's groups, or (text
    item) the diagnoses that fell into the catch-all of the instrument's group item."""
    diagnoses = list(participant.diagnoses)
    if f.type == "multiple_choice":
        return grouped(diagnoses, f.record_groups, [str(v) for v in f.choice_values])
    groups = next(
        (g.record_groups for g in definition.fields if g.derived and g.record_groups),
        {"other": CATCH_ALL},
    )
    return others_text(diagnoses, groups)


def _same(f: FieldDefinition, answer: Any, derived: Any) -> bool:
    if f.type == "multiple_choice":
        return set(answer or ()) == set(derived or ())
    if isinstance(answer, str) and isinstance(derived, str):
        return answer.strip() == derived.strip()
    return (answer or None) == (derived or None)


def refuse_derived_changes(
    definition: InstrumentDefinition, participant: Participant, values: Mapping[str, Any]
) -> None:
    """Refuse an answer of a derived item that differs from the value derived from the
    record: the record cannot take it (groups are not codes), and the response keeps none."""
    refused: dict[str, list[str]] = {}
    derived = record_answers(definition, participant)
    for name, f in definition.bound_fields.items():
        if not f.derived or values.get(name) is None:
            continue
        if isinstance(values[name], Missing) or not _same(f, values[name], derived.get(name)):
            refused[name] = [N_("Diagnoses are kept in the participant record; change them there.")]
    if refused:
        raise ValidationFailed(N_("The answers have errors."), errors={"answers": refused})


def record_answers_json(
    definition: InstrumentDefinition, participant: Participant
) -> dict[str, Any]:
    return {name: to_json(value) for name, value in record_answers(definition, participant).items()}


def record_value_sql(f: FieldDefinition, definition: InstrumentDefinition | None = None) -> Any:
    """SQL of a bound item's value read from the participant record (for readers that
    aggregate in SQL, such as the item-level exports and the quality rules): the
    record's column, its codes spelt as the item spells them; for an item derived from
    the record's diagnoses (``definition`` then required), the value
    :func:`derived_value` gives, with a multiple-choice item's first group in the
    item's order standing for its list (NULL when the record holds no diagnosis)."""
    if f.derived:
        assert definition is not None, "a derived item's value needs its instrument"
        return _derived_value_sql(definition, f)
    column: Any = getattr(Participant, f.record_field or "")
    if f.record_codes:
        whens = [(column == record, item) for item, record in f.record_codes.items()]
        column = case(*whens, else_=column)
    return column


def record_or_stored(versions: Sequence[Any], name: str, mine: Any, stored: Any) -> Any:
    """SQL of a field's value in a response, for readers that aggregate in SQL (the
    item-level exports): the record's where the response's instrument version (one of
    ``versions``) binds the field (derives it, for the diagnoses), the stored answer
    (``stored`` where ``mine``) elsewhere."""
    binding: FieldDefinition | None = None
    definition: InstrumentDefinition | None = None
    bound_ids = []
    for version in versions:
        f = version.parsed.field(name)
        if f is not None and f.record_field:
            binding, definition = f, version.parsed
            bound_ids = [*bound_ids, version.id]
    if binding is None:
        return case((mine, stored))
    which = InstrumentResponse.instrument_version_id
    return case((which.in_(bound_ids), record_value_sql(binding, definition)), (mine, stored))


def _catch_all_sql(groups: Mapping[str, str]) -> Any:
    """Whether a diagnosis (a row of ParticipantDiagnosis) falls into the catch-all."""
    named = [_in_group_sql(ParticipantDiagnosis.code, g) for g in groups.values() if g != CATCH_ALL]
    return not_(or_(*named)) if named else True


def _derived_value_sql(definition: InstrumentDefinition, f: FieldDefinition) -> Any:
    held = ParticipantDiagnosis.participant_id == Participant.id
    if f.type == "multiple_choice":
        whens = [
            (
                exists().where(
                    held,
                    _catch_all_sql(f.record_groups)
                    if group == CATCH_ALL
                    else _in_group_sql(ParticipantDiagnosis.code, group),
                ),
                choice,
            )
            for choice in (str(v) for v in f.choice_values)
            if (group := f.record_groups.get(choice)) is not None
        ]
        return case(*whens, else_=None)
    groups = next(
        (g.record_groups for g in definition.fields if g.derived and g.record_groups),
        {"other": CATCH_ALL},
    )
    return OthersTextSQL(held, _catch_all_sql(groups))


class OthersTextSQL(FunctionElement[str]):
    """The record's diagnoses matching ``where`` (correlated to Participant), each as
    written else its code, in the record's order, joined as :func:`others_text` joins
    them; NULL when none."""

    type = String()
    inherit_cache = False

    def __init__(self, held: Any, where: Any) -> None:
        self.held, self.where = held, where
        super().__init__()


def _other_words() -> tuple[Any, Any]:
    d = ParticipantDiagnosis
    return func.coalesce(d.text, d.code), d.position


@compiles(OthersTextSQL)
def _others_text_default(element: OthersTextSQL, compiler: Any, **kw: Any) -> str:
    # SQLite before 3.44 has no ORDER BY inside an aggregate; an ordered subquery keeps it
    words, position = _other_words()
    ordered = (
        select(words.label("word"))
        .where(element.held, element.where)
        .order_by(position)
        .correlate(Participant)  # SQLite correlates into a FROM subquery
        .subquery()
    )
    joined = select(func.group_concat(ordered.c.word, OTHER_SEPARATOR)).scalar_subquery()
    return compiler.process(joined, **kw)


@compiles(OthersTextSQL, "postgresql")
def _others_text_postgresql(element: OthersTextSQL, compiler: Any, **kw: Any) -> str:
    words, position = _other_words()
    joined = (
        select(func.string_agg(words, aggregate_order_by(literal(OTHER_SEPARATOR), position)))
        .where(element.held, element.where)
        .scalar_subquery()
    )
    return compiler.process(joined, **kw)


def _in_group_sql(code: Any, group: str) -> Any:
    upper = func.upper(code)
    tests = []
    for part in group_parts(group):
        found = RANGE.match(part)
        if found:
            tests.append(func.substr(upper, 1, 3).between(found.group(1), found.group(2)))
        else:
            tests.append(or_(upper == part, upper.like(part + ("%" if "." in part else ".%"))))
    return or_(*tests)


def derived_choice_sql(
    versions: Sequence[Any], f: FieldDefinition, choice: str
) -> tuple[Any, Any] | None:
    """SQL of one choice of a derived multiple-choice item (1 or 0, NULL when the
    record holds no diagnosis) for responses of the ``versions`` that derive it, to
    be read where InstrumentResponse and Participant are joined; None when no version
    derives it: (whether the response's version derives it, the value). The codes are
    grouped as :func:`derived_value` groups them."""
    ids, groups = [], {}
    for version in versions:
        g = version.parsed.field(f.name)
        if g is not None and g.derived and g.record_groups:
            ids, groups = [*ids, version.id], g.record_groups
    if not ids:
        return None
    code = ParticipantDiagnosis.code
    held = ParticipantDiagnosis.participant_id == Participant.id
    any_held = exists().where(held)
    which = InstrumentResponse.instrument_version_id.in_(ids)
    if choice not in groups:  # a missing-data code: the record never holds one
        return which, case((any_held, 0))
    if groups[choice] == CATCH_ALL:
        chosen = exists().where(held, _catch_all_sql(groups))
    else:
        chosen = exists().where(held, _in_group_sql(code, groups[choice]))
    return which, case((chosen, 1), (any_held, 0))


def without_bound(definition: InstrumentDefinition, values: Mapping[str, Any]) -> dict[str, Any]:
    """The answers a response stores itself: every answer but those of bound items."""
    bound = definition.bound_fields
    return {name: value for name, value in values.items() if name not in bound}


def write_to_record(
    session: Session,
    definition: InstrumentDefinition,
    participant: Participant,
    values: Mapping[str, Any],
    response_id: int,
) -> bool:
    """Write the bound items' answers in ``values`` to the participant record; only
    the characteristics that differ from the record change it (and its audit trail).
    The record's refusals are raised as errors of the answers that gave the values.

    The record's audit rows carry the reason the person gave for the response, or,
    for an answer entered without one (a first entry), where the value came from: the
    record changes after its first entry, which needs a reason (GCP). Returns whether
    the record changed."""
    refuse_derived_changes(definition, participant, values)
    bound = definition.bound_fields
    changes: dict[str, Any] = {}
    item_of: dict[str, str] = {}
    refused: dict[str, list[str]] = {}
    for name, f in bound.items():
        if name not in values or f.record_field is None or f.derived:
            continue
        value = values[name]
        if isinstance(value, Missing):
            refused[name] = [
                N_("The participant record holds this; a missing-data code cannot stand for it.")
            ]
            continue
        stored = f.to_record(value)
        item_of[f.record_field] = name
        if stored != getattr(participant, f.record_field):
            changes[f.record_field] = stored
    if refused:
        raise ValidationFailed(N_("The answers have errors."), errors={"answers": refused})
    if not changes:
        return False
    reason = current_audit_context().reason
    if not (reason and reason.strip()):
        reason = f"Answered in questionnaire {definition.name} (response {response_id})"
    try:
        with audit_context(reason=reason), another_record():
            update_participant(session, participant, changes, participant.version_id)
    except ValidationFailed as exc:
        answers: dict[str, Any] = {}
        others: dict[str, Any] = {}
        for field, messages in exc.errors.items():
            if field in item_of:
                answers[item_of[field]] = messages
            else:
                others[field] = messages
        raise ValidationFailed(
            N_("The participant record cannot take these answers."),
            errors={**others, "answers": answers} if answers else others,
        ) from None
    return True
