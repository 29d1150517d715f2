# ruff: noqa: E501 - the dictionary below is verbatim CSV, one REDCap row per line
"""REDCap data dictionary interchange: round trips, a hand-written dictionary, problems."""

import csv
import io
from pathlib import Path

import pytest

from tests.seeders.instruments import sync_shipped
from trialdm.audit.queries import history
from trialdm.instruments.definitions import DefinitionError, load_definition_folder
from trialdm.instruments.models import InstrumentVersion
from trialdm.instruments.redcap import COLUMNS, export_dictionary
from trialdm.instruments.redcap_import import import_dictionary

SHIPPED = Path(__file__).resolve().parent.parent / "instruments"

HEADER = ",".join(f'"{c}"' if "," in c else c for c in COLUMNS)
# Written the way REDCap's own Online Designer exports a dictionary.
HAND_WRITTEN = (
    HEADER
    + "\n"
    + """record_id,intake,,text,Record ID,,,,,,,,,,,,,
sex,intake,Demographics,radio,Sex,"1, Female | 2, Male | 3, Other",,,,,,,y,,,,,
sex_other,intake,,text,Please describe,,,,,,,[sex] = '3',y,,,,,@CHARLIMIT=100
dob,intake,,text,Date of birth,,YYYY-MM-DD,date_ymd,1930-01-01,2010-12-31,y,,y,,,,,
children,intake,,text,Number of children,,,integer,0,20,,,,,,,,
weight,intake,,text,Weight (kg),,,number,30,250.5,,,,,,,,@TRIALDM-UNITS="kg"
country,intake,,dropdown,Country of birth,"ug, Uganda | tz, Tanzania | in, India | de, Germany",,,,,,,,,,,,
symptoms,intake,Symptoms,checkbox,Symptoms in the last week,"1, Low mood | 2, Worry | 3, Poor sleep | 99, Other",,,,,,,y,,,,,
symptoms_other,intake,,text,Other symptom,,,,,,,[symptoms(99)] = '1',,,,,,
smoker,intake,,yesno,Do you smoke?,,,,,,,,y,,,,,
cigarettes,intake,,text,Cigarettes per day,,,integer,1,100,,[smoker] = '1',y,,,,,
info,intake,,descriptive,Thank you,,,,,,,,,,,,,
notes,intake,,notes,Interviewer notes,,,,,,,,,,,,,
mood,follow_up,,radio,Mood today,"0, Very bad | 1, 1 | 2, 2 | 3, 3 | 4, Very good",,,,,,,y,,,,,@TRIALDM-SCALE
calm,follow_up,,radio,Feeling tense,"0, Not at all | 1, 1 | 2, 2 | 3, 3 | 4, Very",,,,,,,y,,,,,@TRIALDM-SCALE @TRIALDM-REVERSE
wellbeing,follow_up,,calc,Wellbeing score,"sum([mood],(4-[calm]))",,,,,,,,,,,,@TRIALDM-SCORE
"""
)


def english_only(value):
    if isinstance(value, dict):
        if set(value) and all(len(k) in (2, 3) and k.isalpha() for k in value):
            return {k: v for k, v in value.items() if k == "en"}
        return {k: english_only(v) for k, v in value.items()}
    if isinstance(value, list):
        return [english_only(v) for v in value]
    return value


@pytest.mark.parametrize("name", [p.stem for p in sorted(SHIPPED.glob("*.toml"))])
def test_shipped_instruments_round_trip(name):
    (original,) = [d for d in load_definition_folder(SHIPPED) if d.name == name]
    (back,) = import_dictionary(export_dictionary([original]))
    expected = english_only(original.to_dict())
    # a condition written as a table comes back as its REDCap text, with the same tree
    for f in expected["fields"]:
        if "show_if" in f:
            f["show_if"] = original.fields_by_name[f["name"]].show_if.text
        # an item bound to the participant record is a normal field in REDCap
        f.pop("record_field", None)
        f.pop("record_codes", None)
        f.pop("record_groups", None)
    assert back.to_dict()["fields"] == expected["fields"]
    assert back.to_dict().get("scores") == expected.get("scores")
    for f in original.fields:
        if f.show_if is not None:
            assert back.fields_by_name[f.name].show_if.tree == f.show_if.tree


def test_hand_written_dictionary_imports_every_type():
    intake, follow_up = import_dictionary(HAND_WRITTEN, source="hand.csv")
    assert (intake.name, follow_up.name) == ("intake", "follow_up")
    f = intake.fields_by_name
    assert f["info"].type == "descriptive"  # text shown on the form, no answer
    assert f["record_id"].type == "text"
    assert f["sex"].type == "single_choice" and f["sex"].choice_values == ["1", "2", "3"]
    assert f["sex"].required and f["sex"].section == {"en": "Demographics"}
    assert f["sex_other"].show_if.to_dict() == "[sex] = '3'"  # kept exactly as written
    assert f["sex_other"].max_length == 100
    assert f["dob"].type == "date" and str(f["dob"].min) == "1930-01-01"
    assert f["dob"].help == {"en": "YYYY-MM-DD"}
    assert (f["children"].type, f["children"].min, f["children"].max) == ("integer", 0, 20)
    assert (f["weight"].type, f["weight"].max, f["weight"].units) == ("decimal", 250.5, "kg")
    assert f["country"].widget == "dropdown"
    assert f["symptoms"].type == "multiple_choice" and f["symptoms"].required
    assert f["symptoms_other"].show_if.to_dict() == "[symptoms(99)] = '1'"
    assert f["smoker"].type == "yes_no"
    assert f["cigarettes"].show_if.to_dict() == "[smoker] = '1'"
    assert f["notes"].multiline
    g = follow_up.fields_by_name
    assert (g["mood"].type, g["mood"].min, g["mood"].max) == ("scale", 0, 4)
    assert [c.value for c in g["mood"].choices] == [0, 4]
    assert g["calm"].reverse
    assert follow_up.scores[0].items == ("mood", "calm")


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_hand_written_dictionary_exports_back_the_same():
    definitions = import_dictionary(HAND_WRITTEN)
    exported = export_dictionary(definitions)
    assert next(csv.reader(io.StringIO(exported))) == list(COLUMNS)
    kept = [
        "Variable / Field Name",
        "Form Name",
        "Section Header",
        "Field Type",
        "Field Label",
        "Choices, Calculations, OR Slider Labels",
        "Field Note",
        "Text Validation Type OR Show Slider Number",
        "Text Validation Min",
        "Text Validation Max",
        "Branching Logic (Show field only if...)",
        "Required Field?",
    ]
    original = rows(HAND_WRITTEN)
    again = rows(exported)
    assert [{k: r[k] for k in kept} for r in again] == [{k: r[k] for k in kept} for r in original]
    # and a second round trip changes nothing at all
    assert export_dictionary(import_dictionary(exported)) == exported


@pytest.mark.parametrize(
    ("row", "where", "reason"),
    [
        ("up,f,,file,Upload,,,,,,,,,,,,,", "line 2: up", "field type 'file'"),
        ("v,f,,text,V,,,vmrn,,,,,,,,,,", "line 2: v", "'vmrn'"),
        (
            'c,f,,calc,C,"stdev([a],[b])",,,,,,,,,,,,',
            "line 2: c",
            "function 'stdev' is not supported",
        ),
        ("c,f,,calc,C,[a]*2,,,,,,,,,,,,", "line 2: c", "'a' is not a field or an earlier score"),
        ("a,f,,text,A,,,,,,,[t0_arm_1][b] = '1',,,,,,", "line 2: a", "another event"),
        ("a,f,,text,A,,,,,,,[zz] = '1',,,,,,", "line 2: a", "not an earlier field"),
        ('a,f,,radio,A,"a b, Yes | n, No",,,,,,,,,,,,', "line 2: a", "choices[0].value: a code"),
    ],
)
def test_problems_name_the_line_field_and_reason(row, where, reason):
    with pytest.raises(DefinitionError) as caught:
        import_dictionary(HEADER + "\n" + row + "\n", source="d.csv")
    found = [(p.file, p.field, p.reason) for p in caught.value.problems]
    assert any(f == "d.csv" and w == where and reason in r for f, w, r in found), found


def test_a_file_that_is_not_a_dictionary_is_refused():
    with pytest.raises(DefinitionError, match="missing column"):
        import_dictionary("name,type\nx,text\n")


def test_api_exports_csv_and_audits(api_as, app, db_session):
    sync_shipped(db_session)
    db_session.commit()
    api = api_as("research_worker", ["BU"])
    response = api.get("/api/v1/instruments/social_inclusion_scale/redcap")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = rows(response.get_data(as_text=True))
    assert body[-1]["Field Type"] == "calc" and body[0]["Variable / Field Name"] == "si_01"
    version = db_session.query(InstrumentVersion).filter_by(name="social_inclusion_scale").one()
    assert [e.action for e in history(db_session, "instrument_versions", version.id)][-1] == (
        "export"
    )
    assert api.get("/api/v1/instruments/nothing/redcap").status_code == 404


def test_cli_import_writes_definitions_that_sync(app, tmp_path, db_session):
    source = tmp_path / "dictionary.csv"
    source.write_text(HAND_WRITTEN)
    runner = app.test_cli_runner()
    out = tmp_path / "defs"
    result = runner.invoke(args=["instruments", "import-redcap", str(source), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "intake.toml").exists() and (out / "follow_up.toml").exists()
    again = runner.invoke(args=["instruments", "import-redcap", str(source), "--out", str(out)])
    assert again.exit_code != 0 and "Not overwriting" in again.output
    synced = runner.invoke(args=["instruments", "sync", "--dir", str(out)])
    assert synced.exit_code == 0, synced.output
    assert "stored intake v1" in synced.output
    exported = runner.invoke(args=["instruments", "export-redcap", "intake"])
    assert exported.exit_code == 0
    assert rows(exported.output)[1]["Choices, Calculations, OR Slider Labels"] == (
        "1, Female | 2, Male | 3, Other"
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "\nup,f,,file,Upload,,,,,,,,,,,,,\n")
    failed = runner.invoke(args=["instruments", "import-redcap", str(bad), "--out", str(out)])
    assert failed.exit_code != 0 and "bad.csv: line 2: up: field type 'file'" in failed.output
