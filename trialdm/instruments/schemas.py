"""Schemas of the instruments domain.

:func:`answers_schema` builds, from one instrument version, the marshmallow schema
that validates answers: the one source of truth for the API and the pages. Each
problem is reported on its field: unknown fields, wrong types, values out of range,
a choice not in the list, a value for a field its condition hides, and (with
``complete=True``) a required field that is shown but blank. Any field may carry a
missing-data code instead of a value, ``{"missing": "refused"}``, which is not blank.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import marshmallow as ma
from marshmallow import validate

from trialdm.core.dates import today
from trialdm.core.errors import N_, Message
from trialdm.core.limits import EVENT, KEY, at_most
from trialdm.core.pagination import PageArgs, PageMeta
from trialdm.core.schemas import DumpSchema, LoadSchema, Site
from trialdm.instruments.definitions import (
    DATETIME_FORMATS,
    MISSING_CODES,
    TEXT_FORMATS,
    FieldDefinition,
    InstrumentDefinition,
    Missing,
)
from trialdm.instruments.definitions.dates import resolved
from trialdm.instruments.models import RESPONSE_STATUSES
from trialdm.instruments.scoring import visible_fields

TEXT_MAX_LENGTH = 10_000


def _real_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class AnswerField(ma.fields.Field):
    """One answer of one field of an instrument: ``null`` (blank), a value of the
    field's type, or ``{"missing": code}``."""

    def __init__(self, definition: FieldDefinition, **kwargs: Any) -> None:
        self.definition = definition
        super().__init__(allow_none=True, **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, Missing):
            return value.to_json()
        if isinstance(value, date):
            return value.isoformat()
        return value

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, dict):
            code = value.get("missing")
            if set(value) != {"missing"} or code not in MISSING_CODES:
                raise ma.ValidationError(
                    Message(
                        N_('An object here is a missing-data code: {"missing": one of %(codes)s}.'),
                        codes=", ".join(MISSING_CODES),
                    )
                )
            return Missing(code)
        parse = getattr(self, f"_load_{self.definition.type}")
        return parse(value)

    # one loader per field type; None means blank
    def _range(self, value: Any, shown: Any = None) -> Any:
        low, high = self.definition.min, self.definition.max
        shown_low = low.isoformat() if isinstance(low, date) else low
        shown_high = high.isoformat() if isinstance(high, date) else high
        if low is not None and value < low:
            raise ma.ValidationError(
                Message(N_("Must be at least %(shown_low)s."), shown_low=shown_low)
            )
        if high is not None and value > high:
            raise ma.ValidationError(
                Message(N_("Must be at most %(shown_high)s."), shown_high=shown_high)
            )
        return value

    def _load_text(self, value: Any) -> str | None:
        if not isinstance(value, str):
            raise ma.ValidationError(N_("Must be text."))
        value = value.strip()
        limit = self.definition.max_length or TEXT_MAX_LENGTH
        if len(value) > limit:
            raise ma.ValidationError(Message(N_("At most %(limit)s characters."), limit=limit))
        text_format = self.definition.format
        if not value or text_format is None:
            return value or None
        pattern, shown = TEXT_FORMATS[text_format]
        if not re.match(pattern, value) or (
            text_format in DATETIME_FORMATS and not _real_datetime(value)
        ):
            raise ma.ValidationError(Message(N_("Must be %(shown)s."), shown=shown))
        return self._range(value)

    def _load_descriptive(self, value: Any) -> None:
        raise ma.ValidationError(N_("Text shown on the form; it takes no answer."))

    def _load_integer(self, value: Any) -> int:
        if not _is_int(value):
            raise ma.ValidationError(N_("Must be a whole number."))
        return self._range(value)

    def _load_decimal(self, value: Any) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise ma.ValidationError(N_("Must be a number."))
        places = self.definition.decimals
        if places is not None and Decimal(repr(float(value))).as_tuple().exponent < -places:  # type: ignore[operator]
            raise ma.ValidationError(
                Message(N_("At most %(places)s decimal place(s)."), places=places)
            )
        return self._range(float(value))

    def _load_scale(self, value: Any) -> int:
        if not _is_int(value):
            low, high = self.definition.min, self.definition.max
            raise ma.ValidationError(
                Message(N_("Must be a whole number from %(low)s to %(high)s."), low=low, high=high)
            )
        return self._range(value)

    def _load_date(self, value: Any) -> date:
        if not isinstance(value, str):
            raise ma.ValidationError(N_("Must be a date (YYYY-MM-DD)."))
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            raise ma.ValidationError(N_("Must be a date (YYYY-MM-DD).")) from None
        # a bound such as "today" is the day of entry, resolved now (not when the
        # schema was built and cached)
        on = today()
        low, high = resolved(self.definition.min, on), resolved(self.definition.max, on)
        if low is not None and parsed < low:
            raise ma.ValidationError(Message(N_("Must be on or after %(date)s."), date=low))
        if high is not None and parsed > high:
            raise ma.ValidationError(Message(N_("Must be on or before %(date)s."), date=high))
        return parsed

    def _load_yes_no(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise ma.ValidationError(N_("Must be true (yes) or false (no)."))
        return value

    def _choice_error(self, value: Any) -> ma.ValidationError:
        allowed = ", ".join(str(v) for v in self.definition.choice_values)
        return ma.ValidationError(
            Message(
                N_("%(value)s is not one of the choices (%(allowed)s)."),
                value=repr(value),
                allowed=allowed,
            )
        )

    def _load_single_choice(self, value: Any) -> str:
        if not isinstance(value, str) or value not in self.definition.choice_values:
            raise self._choice_error(value)
        return value

    def _load_multiple_choice(self, value: Any) -> list[str] | None:
        if not isinstance(value, list):
            raise ma.ValidationError(N_("Must be a list of choices."))
        for item in value:
            if not isinstance(item, str) or item not in self.definition.choice_values:
                raise self._choice_error(item)
        if len(set(value)) != len(value):
            raise ma.ValidationError(N_("A choice is listed twice."))
        order = self.definition.choice_values
        return sorted(value, key=order.index) or None


class AnswersSchemaBase(LoadSchema):
    """Base of the generated schemas; ``instrument`` and ``complete`` are set on
    each generated class."""

    instrument: InstrumentDefinition
    complete: bool = False

    @ma.validates_schema(skip_on_field_errors=True)
    def check_conditions(self, data: dict[str, Any], **kwargs: Any) -> None:
        shown = visible_fields(self.instrument, data)
        errors: dict[str, list[str]] = {}
        for f in self.instrument.fields:
            value = data.get(f.name)
            if f.name not in shown:
                if value is not None:
                    condition = f.show_if.describe() if f.show_if else ""
                    errors[f.name] = [f"Not asked here (only when {condition}); leave it blank."]
            elif self.complete and f.required and value is None:
                errors[f.name] = ["Required to complete the response."]
        if errors:
            raise ma.ValidationError(errors)


@lru_cache(maxsize=256)
def _schema_class(definition_json: str, complete: bool) -> type:
    instrument = InstrumentDefinition.from_dict(json.loads(definition_json))
    fields = {f.name: AnswerField(f) for f in instrument.fields}
    schema_class = AnswersSchemaBase.from_dict(
        fields, name=f"Answers_{instrument.name}_v{instrument.version}"
    )
    schema_class.instrument = instrument
    schema_class.complete = complete
    return schema_class


def answers_schema(instrument_version: Any, complete: bool = False) -> ma.Schema:
    """The schema validating answers of one instrument version.

    ``instrument_version``: an :class:`~trialdm.instruments.models.InstrumentVersion`
    or an :class:`InstrumentDefinition`. ``schema.load(answers)`` returns the typed
    values (``None`` for blank, :class:`Missing` for missing-data codes) or raises
    ``marshmallow.ValidationError`` with messages per field; ``schema.dump(values)``
    gives the JSON form back. With ``complete=True``, every shown required field
    must be answered (a missing-data code counts as answered).
    """
    instrument = getattr(instrument_version, "parsed", instrument_version)
    key = json.dumps(instrument.to_dict(), sort_keys=True)
    return _schema_class(key, complete)()


# ---------------------------------------------------------------- API schemas

_CONTEXT = [
    at_most(KEY),
    validate.Regexp(
        r"^[a-z_]{1,32}:[A-Za-z0-9_-]{1,30}$", error=N_("A reference such as 'focus_group:12'.")
    ),
]


class ResponseCreate(LoadSchema):
    participant_id = ma.fields.Integer(required=True)
    instrument = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    instrument_version = ma.fields.Integer(
        validate=validate.Range(min=1),
        metadata={"description": "Defaults to the newest stored version"},
    )
    event = ma.fields.String(
        validate=at_most(EVENT),
        allow_none=True,
        metadata={"description": "Schedule event (T0...T3); none for others"},
    )
    status = ma.fields.String(load_default="incomplete", validate=validate.OneOf(RESPONSE_STATUSES))
    collected_on = ma.fields.Date(metadata={"description": "Defaults to today"})
    context = ma.fields.String(allow_none=True, validate=_CONTEXT)
    answers = ma.fields.Dict(keys=ma.fields.String(), load_default=dict)


class ResponseUpdate(LoadSchema):
    answers = ma.fields.Dict(
        keys=ma.fields.String(),
        metadata={"description": "Changed answers only; null clears an answer"},
    )
    status = ma.fields.String(validate=validate.OneOf(RESPONSE_STATUSES))
    collected_on = ma.fields.Date()
    context = ma.fields.String(allow_none=True, validate=_CONTEXT)
    reason = ma.fields.String(
        validate=validate.Length(min=1, max=2000),
        metadata={"description": "Required when the response was complete"},
    )


class ResponseDeleteArgs(LoadSchema):
    reason = ma.fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ResponseOut(DumpSchema):
    id = ma.fields.Integer()
    site = ma.fields.String(attribute="site_code")
    participant_id = ma.fields.Integer()
    event = ma.fields.String(allow_none=True)
    instrument = ma.fields.String(attribute="instrument_name")
    instrument_version = ma.fields.Function(lambda r: r.instrument_version.version)
    status = ma.fields.String()
    collected_on = ma.fields.Date()
    completed_at = ma.fields.DateTime(allow_none=True)
    context = ma.fields.String(allow_none=True)
    answers = ma.fields.Method("dump_answers")
    scores = ma.fields.Method("dump_scores")
    version = ma.fields.Integer(attribute="version_id")
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()

    def dump_answers(self, response: Any) -> dict[str, Any]:
        from trialdm.instruments.queries import answers_json

        return answers_json(response)

    def dump_scores(self, response: Any) -> dict[str, Any]:
        return {a.field: a.value_number for a in response.answers if a.computed}


class ResponseQuery(PageArgs):
    class Meta:
        unknown = ma.RAISE

    site = Site()
    participant_id = ma.fields.Integer()
    event = ma.fields.String(validate=at_most(EVENT))
    instrument = ma.fields.String(validate=at_most(KEY))
    status = ma.fields.String(validate=validate.OneOf(RESPONSE_STATUSES))
    context = ma.fields.String(validate=at_most(KEY))


class ResponsePage(DumpSchema):
    items = ma.fields.List(ma.fields.Nested(ResponseOut))
    meta = ma.fields.Nested(PageMeta)


class InstrumentQuery(LoadSchema):
    lang = ma.fields.String(load_default="en", validate=validate.Length(min=2, max=16))


class InstrumentSummary(DumpSchema):
    name = ma.fields.String()
    version = ma.fields.Integer()
    title = ma.fields.String()
    events = ma.fields.Function(lambda v: list(v.parsed.events))
    respondents = ma.fields.Function(lambda v: list(v.parsed.respondents))
    versions = ma.fields.List(ma.fields.Integer())
    synced_at = ma.fields.DateTime()


class InstrumentOut(DumpSchema):
    name = ma.fields.String()
    version = ma.fields.Integer()
    language = ma.fields.String()
    labels = ma.fields.Dict()
    definition = ma.fields.Dict()
    codes = ma.fields.Dict()
    synced_at = ma.fields.DateTime()


class RedcapExportQuery(LoadSchema):
    version = ma.fields.Integer(validate=validate.Range(min=1))
