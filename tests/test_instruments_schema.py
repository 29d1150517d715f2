"""The answer schema built from a definition: every field type and rule."""

from datetime import date

import marshmallow as ma
import pytest

from trialdm.instruments.definitions import Missing, parse_definition
from trialdm.instruments.schemas import answers_schema
from trialdm.instruments.scoring import compute_scores

DEFINITION = parse_definition(
    {
        "name": "all_types",
        "version": 1,
        "title": "All types",
        "fields": [
            {"name": "note", "type": "text", "label": "Note", "max_length": 5},
            {"name": "count", "type": "integer", "label": "Count", "min": 0, "max": 10},
            {"name": "weight", "type": "decimal", "label": "Weight", "min": 1.5, "units": "kg"},
            {"name": "seen_on", "type": "date", "label": "Seen", "min": "2020-01-01"},
            {
                "name": "colour",
                "type": "single_choice",
                "label": "Colour",
                "required": True,
                "choices": [{"value": "red", "label": "Red"}, {"value": "blue", "label": "Blue"}],
            },
            {
                "name": "pets",
                "type": "multiple_choice",
                "label": "Pets",
                "choices": [
                    {"value": "cat", "label": "Cat"},
                    {"value": "dog", "label": "Dog"},
                    {"value": "other", "label": "Other"},
                ],
            },
            {
                "name": "pet_other",
                "type": "text",
                "label": "Other pet",
                "required": True,
                "show_if": {"field": "pets", "contains": "other"},
            },
            {"name": "smokes", "type": "yes_no", "label": "Smokes?", "required": True},
            {
                "name": "per_day",
                "type": "integer",
                "label": "Per day",
                "required": True,
                "show_if": {"field": "smokes", "equals": True},
            },
            {
                "name": "brand",
                "type": "text",
                "label": "Brand",
                "show_if": {"field": "per_day", "not_equals": 0},
            },
            {
                "name": "why_blue",
                "type": "text",
                "label": "Why?",
                "show_if": {"field": "colour", "any_of": ["blue"]},
            },
            {"name": "mood", "type": "scale", "label": "Mood", "min": 1, "max": 5},
            {"name": "calm", "type": "scale", "label": "Calm", "min": 1, "max": 5, "reverse": True},
        ],
        "scores": [{"name": "total", "label": "Total", "items": ["mood", "calm"]}],
    },
    "test",
)


def load(answers, complete=False):
    return answers_schema(DEFINITION, complete).load(answers)


def errors_of(answers, complete=False) -> dict:
    with pytest.raises(ma.ValidationError) as caught:
        load(answers, complete)
    return caught.value.messages


@pytest.mark.parametrize(
    ("field", "good", "typed", "bad", "message"),
    [
        ("note", " hi ", "hi", "toolong", "At most 5"),
        ("note", "ok", "ok", 12, "Must be text"),
        ("count", 3, 3, 3.5, "whole number"),
        ("count", 10, 10, 11, "at most 10"),
        ("count", 0, 0, True, "whole number"),
        ("weight", 2, 2.0, 1.4, "at least 1.5"),
        ("weight", 80.25, 80.25, "80", "Must be a number"),
        ("seen_on", "2021-02-03", date(2021, 2, 3), "2019-12-31", "on or after 2020-01-01"),
        ("seen_on", "2020-01-01", date(2020, 1, 1), "03/02/2021", "YYYY-MM-DD"),
        ("colour", "red", "red", "green", "not one of the choices"),
        ("pets", ["dog", "cat"], ["cat", "dog"], ["cat", "cat"], "listed twice"),
        ("pets", ["dog"], ["dog"], "dog", "list of choices"),
        ("smokes", False, False, "yes", "true (yes) or false"),
        ("mood", 5, 5, 6, "at most 5"),
        ("mood", 1, 1, 0, "at least 1"),
    ],
)
def test_field_types_and_rules(field, good, typed, bad, message):
    assert load({field: good})[field] == typed
    assert message in errors_of({field: bad})[field][0]


def test_unknown_field_and_blank_values():
    assert "shoe" in errors_of({"shoe": 1})
    assert load({"note": "   ", "pets": [], "count": None}) == {
        "note": None,
        "pets": None,
        "count": None,
    }


def test_missing_codes_on_any_type_count_as_answered():
    values = load(
        {
            "colour": {"missing": "refused"},
            "smokes": {"missing": "dont_know"},
            "seen_on": {"missing": "not_asked"},
        },
        complete=True,
    )
    assert values["colour"] == Missing("refused")
    # a refused controlling answer hides its dependent field (per_day is not required)
    assert load({"colour": "red", "smokes": {"missing": "refused"}}, complete=True)
    assert "missing-data code" in errors_of({"count": {"missing": "lost"}})["count"][0]
    assert "missing-data code" in errors_of({"count": {"missing": "refused", "x": 1}})["count"][0]


def test_conditions_show_and_hide_fields():
    # shown and required when the condition holds
    errors = errors_of({"colour": "red", "smokes": True, "pets": ["other"]}, complete=True)
    assert set(errors) == {"per_day", "pet_other"}
    # a value for a hidden field is refused, naming the condition
    errors = errors_of({"smokes": False, "per_day": 3, "why_blue": "sky"})
    assert "[smokes] = '1'" in errors["per_day"][0]
    assert "[colour] = 'blue'" in errors["why_blue"][0]
    # chained: brand depends on per_day, which depends on smokes
    assert load({"smokes": True, "per_day": 2, "brand": "x"})["brand"] == "x"
    assert "brand" in errors_of({"smokes": True, "per_day": 0, "brand": "x"})
    assert "brand" in errors_of({"smokes": False, "brand": "x"})
    assert load({"colour": "red", "smokes": False}, complete=True)["smokes"] is False


def test_required_only_checked_when_complete():
    assert load({}) == {}
    assert set(errors_of({}, complete=True)) == {"colour", "smokes"}


def test_scores_sum_with_reverse_items_and_need_all_items():
    assert compute_scores(DEFINITION, {"mood": 4, "calm": 5}) == {"total": 5.0}
    assert compute_scores(DEFINITION, {"mood": 4}) == {"total": None}
    assert compute_scores(DEFINITION, {"mood": 4, "calm": Missing("refused")}) == {"total": None}


def test_schema_dumps_back_to_json():
    schema = answers_schema(DEFINITION)
    values = schema.load({"seen_on": "2021-02-03", "colour": {"missing": "refused"}})
    assert schema.dump(values)["seen_on"] == "2021-02-03"
    assert schema.dump(values)["colour"] == {"missing": "refused"}


def test_condition_on_a_date_field():
    definition = parse_definition(
        {
            "name": "dated",
            "version": 1,
            "title": "Dated",
            "fields": [
                {"name": "visit", "type": "date", "label": "Visit"},
                {
                    "name": "why",
                    "type": "text",
                    "label": "Why then?",
                    "show_if": {"field": "visit", "equals": "2025-01-01"},
                },
            ],
        },
        "test",
    )
    schema = answers_schema(definition)
    assert schema.load({"visit": "2025-01-01", "why": "holiday"})["why"] == "holiday"
    with pytest.raises(ma.ValidationError):
        schema.load({"visit": "2025-01-02", "why": "holiday"})
