"""Definition files: validation with file, field and reason; sync and versions; labels."""

from pathlib import Path

import pytest

from tests.seeders.instruments import sync_shipped
from trialdm.instruments.definitions import (
    DefinitionError,
    load_definition_folder,
    parse_definition,
)
from trialdm.instruments.models import InstrumentLabelTranslation, InstrumentVersion
from trialdm.instruments.queries import get_instrument_version, labels_for

SHIPPED = Path(__file__).resolve().parent.parent / "instruments"

GOOD = """
name = "mini"
version = 1
title = { en = "Mini", de = "Mini-Fragebogen" }

[[fields]]
name = "employment"
type = "single_choice"
label = { en = "Employment", de = "Arbeit" }
choices = [
  { value = "employed", label = { en = "Employed", de = "Erwerbstätig" } },
  { value = "unemployed", label = "Unemployed" },
]
"""


def problems(data: dict) -> list[tuple[str, str]]:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(data, "bad.toml")
    assert all(p.file == "bad.toml" for p in caught.value.problems)
    return [(p.field, p.reason) for p in caught.value.problems]


def base(**fields) -> dict:
    return {
        "name": "bad",
        "version": 1,
        "title": "Bad",
        "fields": [{"name": "a", "type": "integer", "label": "A", **fields}],
    }


def test_shipped_definitions_are_valid():
    names = {d.name for d in load_definition_folder(SHIPPED)}
    assert names == {
        "baseline_demographics",
        "psw_session_feedback",
        "fgd_member_questionnaire",
        "social_inclusion_scale",
    }


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"type": "number"}, "fields.a.type", "not one of"),
        ({"min": 5, "max": 1}, "fields.a.min", "above max"),
        ({"min": 1.5}, "fields.a.min", "whole number"),
        ({"label": {"de": "A"}}, "fields.a.label", "English"),
        ({"label": {"xx_1": "A", "en": "A"}}, "fields.a.label.xx_1", "language code"),
        ({"colour": "red"}, "fields.a.colour", "unknown key"),
        ({"choices": [{"value": "x", "label": "X"}]}, "fields.a.choices", "not allowed"),
        ({"show_if": {"field": "zz", "equals": 1}}, "fields.a.show_if.field", "earlier field"),
        ({"reverse": True}, "fields.a.reverse", "scale"),
        ({"units": 3}, "fields.a.units", "numeric"),
    ],
)
def test_field_problems_name_field_and_reason(change, field, reason):
    found = problems(base(**change))
    assert any(f == field and reason in r for f, r in found), found


def test_choice_and_condition_problems():
    data = base()
    data["fields"] = [
        {
            "name": "c",
            "type": "single_choice",
            "label": "C",
            "choices": [{"value": "Yes!", "label": "Y"}, {"value": "no", "label": "N"}],
        },
        {"name": "d", "type": "text", "label": "D", "show_if": {"field": "c", "equals": "maybe"}},
        {"name": "e", "type": "text", "label": "E", "show_if": {"field": "c", "contains": "no"}},
        {"name": "s", "type": "scale", "label": "S", "min": 1},
        {"name": "c", "type": "text", "label": "again"},
    ]
    found = dict(problems(data))
    assert "a code of letters, digits and _, or a number" in found["fields.c.choices[0].value"]
    assert "not a possible answer" in found["fields.d.show_if.equals"]
    assert "multiple-choice" in found["fields.e.show_if.contains"]
    assert "min and max" in found["fields.s"]
    assert "defined twice" in found["fields.c.name"]


def test_top_level_problems():
    found = dict(problems({"name": "Bad Name", "version": 0, "title": 3, "fields": []}))
    assert set(found) >= {"name", "version", "title", "fields"}
    found = dict(problems({**base(), "respondents": ["robot"], "scores": [{"name": "t"}]}))
    assert "respondents" in found and "scores.t.items" in found


def test_scores_must_use_numeric_fields():
    data = base()
    data["fields"].append({"name": "t", "type": "text", "label": "T"})
    data["scores"] = [{"name": "a", "label": "S", "items": ["a", "t"], "min_answered": 3}]
    found = dict(problems(data))
    assert "clashes" in found["scores.a.name"]
    assert "'t' is not a numeric field" in found["scores.a.items"]
    assert "min_answered" in " ".join(found)


def run_sync(app, folder: Path):
    runner = app.test_cli_runner()
    return runner.invoke(args=["instruments", "sync", "--dir", str(folder)])


def test_sync_stores_versions_refuses_changed_content_and_keeps_old(app, tmp_path, db_session):
    (tmp_path / "mini.toml").write_text(GOOD)
    first = run_sync(app, tmp_path)
    assert first.exit_code == 0, first.output
    assert "stored mini v1" in first.output
    assert "0 stored, 1 unchanged" in run_sync(app, tmp_path).output
    changed = GOOD.replace('"Employment"', '"Work"')
    (tmp_path / "mini.toml").write_text(changed)
    refused = run_sync(app, tmp_path)
    assert refused.exit_code != 0
    assert "mini.toml: version: version 1 is stored with different content" in refused.output
    (tmp_path / "mini.toml").write_text(changed.replace("version = 1", "version = 2"))
    assert "stored mini v2" in run_sync(app, tmp_path).output
    assert get_instrument_version(db_session, "mini").version == 2
    old = get_instrument_version(db_session, "mini", 1)
    assert old.parsed.field("employment").label["en"] == "Employment"


def test_sync_rejects_a_broken_file_and_stores_nothing(app, tmp_path, db_session):
    (tmp_path / "mini.toml").write_text(GOOD)
    (tmp_path / "broken.toml").write_text(
        GOOD.replace('name = "mini"', 'name = "broken"').replace(
            'type = "single_choice"', 'type = "colour"'
        )
    )
    (tmp_path / "notoml.toml").write_text("name = ")
    result = run_sync(app, tmp_path)
    assert result.exit_code != 0
    assert "broken.toml: fields.employment.type: 'colour' is not one of" in result.output
    assert "notoml.toml: (file): not valid TOML" in result.output
    assert db_session.query(InstrumentVersion).filter_by(name="mini").count() == 0


def test_instrument_api_serves_old_versions_and_labels(api_as, app, tmp_path, db_session):
    (tmp_path / "mini.toml").write_text(GOOD)
    run_sync(app, tmp_path)
    (tmp_path / "mini.toml").write_text(
        GOOD.replace("version = 1", "version = 2").replace('"Employment"', '"Work"')
    )
    run_sync(app, tmp_path)
    api = api_as("research_worker", ["BU"])
    listing = {i["name"]: i for i in api.get("/api/v1/instruments").json}
    assert listing["mini"]["version"] == 2 and listing["mini"]["versions"] == [1, 2]
    newest = api.get("/api/v1/instruments/mini?lang=de").json
    assert newest["labels"]["fields"]["employment"]["label"] == "Arbeit"
    assert newest["labels"]["fields"]["employment"]["choices"]["unemployed"] == "Unemployed"
    old = api.get("/api/v1/instruments/mini/versions/1").json
    assert old["labels"]["fields"]["employment"]["label"] == "Employment"
    assert api.get("/api/v1/instruments/mini/versions/3").status_code == 404


def test_labels_prefer_stored_translations_then_file_then_english(app, db_session):
    sync_shipped(db_session)
    version = get_instrument_version(db_session, "baseline_demographics")
    assert labels_for(version, "de")["fields"]["gender"]["label"] == "Geschlecht"
    assert labels_for(version, "de-CH")["fields"]["gender"]["label"] == "Geschlecht"
    assert labels_for(version, "lg")["fields"]["gender"]["label"] == "Gender"
    assert labels_for(version, "lg")["title"] == "Ebikwata ku bulamu"
    db_session.add_all(
        [
            InstrumentLabelTranslation(
                instrument_version_id=version.id,
                language="lg",
                key="fields.gender.label",
                text="Ekikula",
            ),
            InstrumentLabelTranslation(
                instrument_version_id=version.id,
                language="de",
                key="fields.gender.choices.female",
                text="Frau",
            ),
        ]
    )
    db_session.flush()
    assert labels_for(version, "lg")["fields"]["gender"]["label"] == "Ekikula"
    assert labels_for(version, "de")["fields"]["gender"]["choices"]["female"] == "Frau"
    assert labels_for(version, "de")["fields"]["gender"]["choices"]["male"] == "Männlich"
