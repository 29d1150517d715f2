"""REDCap dictionaries written for these tests (tests/data/redcap/): every field type,
validation type, logic operator, function and action tag; import then export gives
the same dictionary field by field, directly and through instrument files and the
stored version; encodings and separators; what is refused; the --report."""

import csv
import io
import re
from datetime import date
from pathlib import Path

import pytest

from tests.web_helpers import page_as
from trialdm.instruments.logic import Call, Operation, parse
from trialdm.instruments.redcap import COLUMNS, READ_VALIDATION, export_dictionary
from trialdm.instruments.redcap_import import decode_dictionary, import_dictionary

DATA = Path(__file__).parent / "data" / "redcap"
CORPUS = sorted(DATA.glob("*.csv"))
EVERY_TYPE = DATA / "every_type.csv"
HEADER = ",".join(f'"{c}"' if "," in c else c for c in COLUMNS)


def rows_of(text: str) -> list[dict[str, str]]:
    delimiter = ";" if text.splitlines()[0].count(";") > 5 else ","
    return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))


def by_variable(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {r["Variable / Field Name"]: r for r in rows}


def assert_same_dictionary(before: list[dict[str, str]], after: list[dict[str, str]]) -> None:
    assert [r["Variable / Field Name"] for r in after] == [
        r["Variable / Field Name"] for r in before
    ]
    for name, row in by_variable(before).items():
        assert by_variable(after)[name] == row, name


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_import_then_export_gives_the_same_dictionary(path):
    text = decode_dictionary(path.read_bytes(), path.name)
    exported = export_dictionary(import_dictionary(text, source=path.name))
    assert_same_dictionary(rows_of(text), rows_of(exported))
    assert export_dictionary(import_dictionary(exported)) == exported


def test_the_corpus_covers_every_type_validation_operator_function_and_tag():
    rows = rows_of(EVERY_TYPE.read_text(encoding="utf-8"))
    types = {r["Field Type"] for r in rows}
    assert types == {
        "text",
        "notes",
        "radio",
        "dropdown",
        "checkbox",
        "yesno",
        "truefalse",
        "slider",
        "descriptive",
        "calc",
    }
    validations = {r["Text Validation Type OR Show Slider Number"] for r in rows} - {""}
    assert validations == set(READ_VALIDATION) | {"number", "autocomplete"}
    logic = [r["Branching Logic (Show field only if...)"] for r in rows] + [
        r["Choices, Calculations, OR Slider Labels"] for r in rows if r["Field Type"] == "calc"
    ]
    nodes = [node for text in logic if text for node in parse(text).walk()]
    operators = {n.op for n in nodes if isinstance(n, Operation)}
    assert operators >= {"=", "<>", "<", "<=", ">", ">=", "and", "or", "not", "+", "-", "*"}
    assert operators >= {"/", "^"}
    functions = {n.name for n in nodes if isinstance(n, Call)}
    assert functions == {
        "sum",
        "mean",
        "min",
        "max",
        "round",
        "roundup",
        "rounddown",
        "abs",
        "sqrt",
        "if",
        "datediff",
        "isblankormissingcode",
    }
    assert "!=" in " ".join(logic) and "''" in " ".join(logic)
    annotations = " ".join(r["Field Annotation"] for r in rows)
    for tag in ("@HIDDEN", "@READONLY", "@DEFAULT", "@NOW", "@TODAY", "@CHARLIMIT"):
        assert tag in annotations
    for column in ("Identifier?", "Custom Alignment", "Question Number (surveys only)"):
        assert any(r[column] for r in rows), column
    assert any(r["Matrix Group Name"] for r in rows) and any(r["Matrix Ranking?"] for r in rows)
    assert any("\n" in r["Field Label"] for r in rows)  # a multi-line cell


def test_round_trip_through_instrument_files_and_the_stored_version(app, tmp_path, db_session):
    runner = app.test_cli_runner()
    out = tmp_path / "defs"
    imported = runner.invoke(
        args=["instruments", "import-redcap", str(EVERY_TYPE), "--out", str(out)]
    )
    assert imported.exit_code == 0, imported.output
    assert runner.invoke(args=["instruments", "sync", "--dir", str(out)]).exit_code == 0
    exported = [
        row
        for form in ("screening", "follow_up")
        for row in rows_of(runner.invoke(args=["instruments", "export-redcap", form]).output)
    ]
    assert_same_dictionary(rows_of(EVERY_TYPE.read_text(encoding="utf-8")), exported)


def test_windows_1252_with_semicolons_reads_like_utf8(app, tmp_path):
    western = DATA / "windows_1252_semicolons.csv"
    with pytest.raises(UnicodeDecodeError):
        western.read_bytes().decode("utf-8")
    definitions = import_dictionary(decode_dictionary(western.read_bytes()))
    follow_up = {d.name: d for d in definitions}["follow_up"]
    cafe = follow_up.fields_by_name["cafe"]
    assert cafe.label == {"en": "Café visits (Größe ±)"}
    assert cafe.help == {"en": "“quoted” – dash"}
    utf8 = import_dictionary(EVERY_TYPE.read_text(encoding="utf-8"))
    assert {d.name: d for d in definitions}["screening"] == {d.name: d for d in utf8}["screening"]
    # a byte-order mark is not part of the first column's name
    with_bom = decode_dictionary(b"\xef\xbb\xbf" + EVERY_TYPE.read_bytes())
    assert import_dictionary(with_bom) == utf8
    # neither encoding: a clear message, not a UnicodeDecodeError
    broken = tmp_path / "broken.csv"
    broken.write_bytes(EVERY_TYPE.read_bytes().replace(b"Initials", b"Init\x81als"))
    result = app.test_cli_runner().invoke(
        args=["instruments", "import-redcap", str(broken), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code != 0
    assert "broken.csv: (file): not UTF-8 or Windows-1252 text" in result.output


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("up,f,,file,Upload,,,,,,,,,,,,,", "field type 'file': file upload and signature"),
        ("sig,f,,file,Signature,,,signature,,,,,,,,,,", "trialdm stores no attachments"),
        ("q,f,,sql,Pick,select value from x,,,,,,,,,,,,", "field type 'sql': sql fields"),
        ("n,f,,text,N,,,number_comma_decimal,,,,,,,,,,", "validation 'number_comma_decimal'"),
        ("c,f,,calc,C,1+1,,,,,,[a] = '1',,,,,,", "with 'Branching Logic"),
        ("s,f,,slider,S,a | b | c | d,,,,,,,,,,,,", "at most three labels"),
        ("s,f,,slider,S,a | b | c,,,0,5,,,,,,,,", "middle of 0-5"),
        ("a,f,,text,A,,,,,,,[other_form_field] = '1',,,,,,", "a field of another form"),
        ("a,f,,descriptive,A,,,,,,,,y,,,,,", "a descriptive field takes no answer"),
        ("a,f,,text,A,,,time,25:00,,,,,,,,,", "min: must be a time, HH:MM"),
        ("a,f,,yesno,A,,,,,,,,,XX,,,,", "alignment: one of RV, RH, LV, LH"),
    ],
)
def test_what_cannot_be_represented_is_refused_with_line_and_variable(app, tmp_path, row, reason):
    source = tmp_path / "d.csv"
    source.write_text(HEADER + "\n" + row + "\n")
    result = app.test_cli_runner().invoke(
        args=["instruments", "import-redcap", str(source), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code != 0
    variable = row.split(",")[0]
    assert f"d.csv: line 2: {variable}: " in result.output
    assert reason in result.output, result.output
    assert not (tmp_path / "o").exists()


def test_report_says_what_was_kept_changed_and_dropped(app, tmp_path):
    source = tmp_path / "d.csv"
    source.write_text(
        HEADER
        + "\n"
        + "\n".join(
            [
                "w,f,,text,Weight,,,float,1,2,,,,,,,,",
                "s,f,,slider,Mood,Bad | Good,,,,,,,,,,,,",
                'r,f,,radio,Sex,"1, F | 2, M",,,0,,,,,,,,,',
                "n,f,,notes,Notes,,,,,,,,,,,,,@HIDDEN",
                'c,f,,checkbox,"Symptoms ","1, Low|2, High",,,,,,,,,,,,',
            ]
        )
        + "\n"
    )
    result = app.test_cli_runner().invoke(
        args=["instruments", "import-redcap", str(source), "--report", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "line 2: f.w: changed (changed: validation 'float' is written back as 'number')" in lines
    assert (
        "line 3: f.s: changed (changed: min blank: REDCap's default 0 written out; "
        "changed: max blank: REDCap's default 100 written out)"
    ) in lines
    assert "line 4: f.r: dropped (dropped: Text Validation Min '0' (not used by radio))" in lines
    assert "line 5: f.n: kept" in lines
    assert (
        "line 6: f.c: changed (changed: Field Label: surrounding blanks and line breaks "
        "removed; changed: Choices, Calculations, OR Slider Labels: written as "
        "'1, Low | 2, High')"
    ) in lines
    assert (tmp_path / "f.toml").exists()


def test_answers_are_checked_against_the_validation_types(app, tmp_path, api_as, make_participant):
    runner = app.test_cli_runner()
    out = tmp_path / "defs"
    runner.invoke(args=["instruments", "import-redcap", str(EVERY_TYPE), "--out", str(out)])
    assert runner.invoke(args=["instruments", "sync", "--dir", str(out)]).exit_code == 0
    api = api_as("research_worker", ["BU"])
    person = make_participant("BU", enrolment_date=date(2025, 1, 31))

    def post(answers):
        body = {
            "participant_id": person.id,
            "instrument": "screening",
            "collected_on": "2025-12-01",
            "answers": answers,
        }
        return api.post("/api/v1/responses", json=body)

    bad = post(
        {
            "initials": "A1",
            "email": "not-an-address",
            "phone": "12345",
            "zip": "1234",
            "visit_start": "2025-02-30 10:00",
            "scan_start": "2025-02-03 10:00",
            "wake_time": "03:30",
            "walk_time": "61:00",
            "weight": 70.25,
            "creatinine": 1.234,
            "heavy_note": "an answer",
            "sex": "-1",
        }
    )
    assert bad.status_code == 422
    errors = bad.json["errors"]["answers"]
    assert errors == {
        "initials": ["Must be letters only."],
        "email": ["Must be an e-mail address."],
        "phone": ["Must be a North American phone number, (xxx) xxx-xxxx."],
        "zip": ["Must be a US ZIP code, 12345 or 12345-6789."],
        "visit_start": ["Must be a date and time, YYYY-MM-DD HH:MM."],
        "scan_start": ["Must be a date and time, YYYY-MM-DD HH:MM:SS."],
        "wake_time": ["Must be at least 04:00."],
        "walk_time": ["Must be minutes and seconds, MM:SS."],
        "weight": ["At most 1 decimal place(s)."],
        "creatinine": ["At most 2 decimal place(s)."],
        "heavy_note": ["Text shown on the form; it takes no answer."],
    }
    good = post(
        {
            "initials": "ABC",
            "email": "rw@example.org",
            "phone": "(212) 555-0100",
            "zip": "10001-1234",
            "visit_start": "2025-02-03 10:00",
            "scan_start": "2025-02-03 10:00:30",
            "wake_time": "06:45",
            "walk_time": "04:30",
            "weight": 70.5,
            "height": 175,
            "creatinine": 1.23,
            "sex": "-1",
            "country": "UG",
        }
    )
    assert good.status_code == 201, good.json
    assert good.json["answers"]["visit_start"] == "2025-02-03 10:00"
    assert good.json["scores"]["bmi"] == 23.0  # 705000 / 30625 = 23.02


def test_action_tags_on_the_questionnaire_page(app, tmp_path, make_user, make_participant):
    source = tmp_path / "tags.csv"
    source.write_text(
        HEADER
        + "\n"
        + "\n".join(
            [
                "seen_on,tags,,text,Seen on,,,date_ymd,,,,,,,,,,@TODAY",
                "arrived,tags,,text,Arrived,,,datetime_ymd,,,,,,,,,,@NOW @READONLY",
                "site_code,tags,,text,Site,,,,,,,,,,,,,@HIDDEN @DEFAULT='BU'",
                "smoker,tags,,yesno,Smoker,,,,,,,,,,,,,@DEFAULT='0'",
                'weight,tags,,text,Weight,,,number_1dp,,,,,,,,,,@DEFAULT="70.0"',
            ]
        )
        + "\n"
    )
    runner = app.test_cli_runner()
    out = tmp_path / "defs"
    assert runner.invoke(args=["instruments", "import-redcap", str(source), "--out", str(out)])
    assert runner.invoke(args=["instruments", "sync", "--dir", str(out)]).exit_code == 0
    person = make_participant("BU", enrolment_date=date(2025, 1, 31))
    client = page_as(app, make_user, "research_worker", ["BU"])
    url = f"/questionnaires/new?participant_id={person.id}&instrument=tags"
    page = client.get(url).get_data(as_text=True)
    today = date.today().isoformat()
    assert f'name="a.seen_on" value="{today}"' in page
    arrived = re.search(r'name="a\.arrived" value="([^"]*)"[^>]*>', page)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", arrived.group(1))  # @NOW
    assert " readonly" in arrived.group(0)
    assert re.search(r'id="q-site_code"[^>]* hidden data-action-hidden', page)
    assert 'name="a.site_code" value="BU"' in page
    assert 'name="a.smoker" value="false" checked' in page
    assert 'name="a.weight" value="70.0"' in page
    # the defaults are answers like any other once saved
    saved = client.post(
        url,
        data={
            "collected_on": today,
            "a.seen_on": today,
            "a.site_code": "BU",
            "a.smoker": "false",
            "a.weight": "70.0",
        },
    )
    assert saved.status_code == 302, saved.get_data(as_text=True)[:2000]


def test_a_dictionary_of_an_older_redcap_without_the_last_columns_is_read():
    older = COLUMNS[:16]  # no Matrix Ranking?, no Field Annotation
    header = ",".join(f'"{c}"' if "," in c else c for c in older)
    text = header + "\n" + 'sex,f,,radio,Sex,"1, F | 2, M",,,,,,,y,,,grid\n'
    (definition,) = import_dictionary(text)
    sex = definition.fields_by_name["sex"]
    assert (sex.required, sex.matrix, sex.annotation) == (True, "grid", None)
    again = rows_of(export_dictionary([definition]))
    assert again[0]["Field Annotation"] == "" and again[0]["Matrix Group Name"] == "grid"


def test_descriptive_slider_and_truefalse_on_the_page(app, tmp_path, make_user, make_participant):
    runner = app.test_cli_runner()
    out = tmp_path / "defs"
    runner.invoke(args=["instruments", "import-redcap", str(EVERY_TYPE), "--out", str(out)])
    assert runner.invoke(args=["instruments", "sync", "--dir", str(out)]).exit_code == 0
    person = make_participant("BU", enrolment_date=date(2025, 1, 31))
    client = page_as(app, make_user, "research_worker", ["BU"])
    base = f"/questionnaires/new?participant_id={person.id}&instrument="
    follow_up = client.get(base + "follow_up").get_data(as_text=True)
    assert '<p class="descriptive">How often have you been bothered' in follow_up
    assert "a.mood_intro" not in follow_up  # shown text, no input
    slider = re.search(r'<input id="field-wellbeing" name="a\.wellbeing"[^>]*>', follow_up)
    assert 'type="number" min="0" max="100" step="1"' in slider.group(0)
    assert "0 = Very bad · 50 = Neutral · 100 = Very good" in follow_up
    screening = client.get(base + "screening").get_data(as_text=True)
    assert 'name="a.pregnant" value="true"> True' in screening
    assert 'name="a.smoker" value="true"> Yes' in screening
