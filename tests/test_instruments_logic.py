"""Instrument logic: REDCap's branching-logic and calculation language, parsed by a
grammar into one tree, evaluated on the server, refused where unsupported; calculated
fields from a REDCap dictionary computed through the API and shown on the page."""

from datetime import date
from pathlib import Path

import pytest

from tests.redcap_helpers import RedcapClient, redcap_token
from tests.web_helpers import page_as
from trialdm.instruments.definitions import DefinitionError, load_definition_file
from trialdm.instruments.logic import LogicError, evaluate_answers, parse, to_redcap
from trialdm.instruments.logic.evaluate import MissingCode

DICTIONARY = Path(__file__).parent / "data" / "redcap" / "anthropometry.csv"


class Refused:
    """An answer replaced by a missing-data code, as the definitions module stores it."""

    def __init__(self, code: str) -> None:
        self.code = code


# (logic, answers, value): each value worked out by hand from REDCap's rules; the
# browser test (test_web_browser_logic.py) runs the same cases through the page's script.
CASES = [
    # arithmetic, precedence, ^ binds tightest and to the right, unary minus below ^
    ("round(([weight]*10000)/([height])^2,1)", {"weight": 70, "height": 175}, 22.9),
    ("1 + 2 * 3 - 4 / 2", {}, 5.0),
    ("2^3^2", {}, 512.0),
    ("-2^2", {}, -4.0),
    ("(1 + 2) * 3", {}, 9.0),
    # a blank operand makes arithmetic blank; so does division by zero
    ("[a] + 1", {}, None),
    ("[a] / [b]", {"a": 1, "b": 0}, None),
    ("sqrt([a])", {"a": -4}, None),
    # sum, mean, min, max ignore blanks; with nothing left they are blank
    ("sum([a],[b],[c])", {"a": 1, "c": 2.5}, 3.5),
    ("mean([a],[b],[c])", {"a": 1, "c": 2}, 1.5),
    ("min([a],[b])", {"b": -3}, -3.0),
    ("max([a],[b],7)", {"a": 9}, 9.0),
    ("sum([a],[b])", {}, None),
    # rounding: half away from zero, up, down; places default to 0
    ("round(2.5)", {}, 3.0),
    ("round(-2.5)", {}, -3.0),
    ("round(2.675,2)", {}, 2.68),
    ("roundup(1.231,2)", {}, 1.24),
    ("rounddown(1.239,2)", {}, 1.23),
    ("abs(-4) + sqrt(16)", {}, 8.0),
    # choice codes are text that compares and computes as numbers when numeric
    ("[q1] + [q2]", {"q1": "2", "q2": "3"}, 5.0),
    ("[q1] = 2", {"q1": "2.0"}, True),
    ("[q1] = 'a'", {"q1": "A"}, False),
    # comparisons, <> and != are the same, == is =
    ("[a] <> 1 and [a] != 2", {"a": 3}, True),
    ("[a] == 3", {"a": 3}, True),
    ("[a] >= 10 or [b] < 2", {"a": 9, "b": 1}, True),
    ("not [a] > 1", {"a": 3}, False),
    # blank tests; ordering with a blank side is false, <> '' is "answered"
    ("[a] = ''", {}, True),
    ("[a] <> ''", {"a": 0}, True),
    ("[a] < 5", {}, False),
    ("[a] > 5", {}, False),
    # yes/no is 1/0; a checkbox option is 1 when chosen
    ("[smoker] = '1'", {"smoker": True}, True),
    ("[smoker] = 0", {"smoker": False}, True),
    ("[sym(3)] = '1'", {"sym": ["1", "3"]}, True),
    ("[sym(2)] = '1'", {"sym": ["1", "3"]}, False),
    ("[sym(2)] = '0'", {}, True),
    ("[sym(1)] + [sym(3)]", {"sym": ["1", "3"]}, 2.0),
    # dates compare as ISO text; datediff in each unit, absolute unless signed
    ("[d] > '2025-01-01'", {"d": date(2025, 3, 1)}, True),
    ("datediff([d1],[d2],'d')", {"d1": date(2025, 3, 1), "d2": date(2025, 1, 1)}, 59.0),
    (
        "datediff([d1],[d2],'d',true)",
        {"d1": date(2025, 3, 1), "d2": date(2025, 1, 1)},
        -59.0,
    ),
    ("datediff('2024-01-01','2025-01-01','y')", {}, 366 / 365.2425),
    ("datediff('2024-01-01','2024-03-01','M')", {}, 60 / 30.44),
    ("datediff('2024-01-01 08:00','2024-01-01 10:30','h')", {}, 2.5),
    ("datediff('2024-01-01 08:00','2024-01-01 08:02:30','m')", {}, 2.5),
    ("datediff('2024-01-01 08:00','2024-01-01 08:00:42','s')", {}, 42.0),
    ("datediff('31-12-2024','01-01-2025','d','dmy')", {}, 1.0),
    ("datediff('12-31-2024','01-01-2025','d','mdy')", {}, 1.0),
    ("datediff([d1],'2025-01-01','d')", {}, None),
    # if() picks a branch; '' as a result is blank
    ("if([a] > 1, [a] * 2, '')", {"a": 3}, 6.0),
    ("if([a] > 1, [a] * 2, '')", {"a": 1}, ""),
    # a missing-data code is its code in comparisons, blank in arithmetic
    ("isblankormissingcode([a])", {"a": Refused("refused")}, True),
    ("isblankormissingcode([a])", {}, True),
    ("isblankormissingcode([a])", {"a": 0}, False),
    ("[a] = ''", {"a": Refused("refused")}, False),
    ("sum([a],[b])", {"a": Refused("refused"), "b": 2}, 2.0),
    ("[a] * 2", {"a": Refused("refused")}, None),
    # keywords and function names in any case
    ("SUM([a],1) > 1 AND [a] = 1 OR Not 1", {"a": 1}, True),
]


@pytest.mark.parametrize(("text", "answers", "expected"), CASES)
def test_evaluates_with_redcaps_semantics(text, answers, expected):
    value = evaluate_answers(parse(text), answers)
    if isinstance(expected, float):
        assert value == pytest.approx(expected, rel=1e-12)
    else:
        assert value == expected


def test_a_missing_code_is_its_code_text_in_comparisons():
    assert evaluate_answers(parse("[a] = 'refused'"), {"a": Refused("refused")}) is True
    assert isinstance(MissingCode("refused"), str)


@pytest.mark.parametrize(
    "text",
    [
        "round(([weight]*10000)/([height])^2,1)",
        "[a] = '1' and ([b] >= 3 or not [c] <> '')",
        "([a] + [b]) * -[c] - (1 - 2)",
        "2^(3^2) + (2^3)^2 + -2^2 + (-2)^2",
        "if([x(2)] = \"1\", datediff([d],'today','y','ymd',true), '')",
        '[a] = "it\'s"',
        "1 - (2 - 3) - 4 / (5 * 6)",
        "(([a] = 1) = ([b] = 2))",
    ],
)
def test_printing_gives_back_the_same_tree(text):
    tree = parse(text)
    printed = to_redcap(tree)
    assert parse(printed) == tree
    assert to_redcap(parse(printed)) == printed


@pytest.mark.parametrize(
    ("text", "reason", "part"),
    [
        ("stdev([a],[b])", "function 'stdev' is not supported", "stdev("),
        ("[a] + concat([b])", "function 'concat' is not supported", "concat("),
        ("[event_1_arm_1][a] = '1'", "another event", "[event_1_arm_1][a]"),
        ("[user-name] = 'x'", "smart variables", "[user-name]"),
        ("[a] & 2", "unexpected character", "& 2"),
        ("round([a],1,2)", "round() takes 1 to 2 argument(s), not 3", "round("),
        ("if([a], 1)", "if() takes 3 argument(s), not 2", "if("),
        ("datediff([a],[b],'w')", "units are one of", "datediff("),
        ("datediff([a],[b],'d','ydm')", "date format is one of", "datediff("),
        ("isblankormissingcode(1)", "takes a field", "isblankormissingcode("),
    ],
)
def test_unsupported_logic_is_refused_naming_the_part(text, reason, part):
    with pytest.raises(LogicError) as caught:
        parse(text)
    assert reason in caught.value.reason
    assert caught.value.part == part
    assert caught.value.column == text.index(part.split("(")[0][:2]) + 1


def test_unfinished_logic_is_refused():
    for text in ("[a] = ", "round([a],1", "", "   "):
        with pytest.raises(LogicError):
            parse(text)


# -- the REDCap dictionary, through the CLI, the API and the page ---------------------


@pytest.fixture
def anthropometry(app, tmp_path, db_session):
    runner = app.test_cli_runner()
    out = tmp_path / "defs"
    imported = runner.invoke(
        args=["instruments", "import-redcap", str(DICTIONARY), "--out", str(out)]
    )
    assert imported.exit_code == 0, imported.output
    synced = runner.invoke(args=["instruments", "sync", "--dir", str(out)])
    assert synced.exit_code == 0, synced.output
    return out / "anthropometry.toml"


def post(api, participant, answers, **extra):
    body = {
        "participant_id": participant.id,
        "instrument": "anthropometry",
        "collected_on": "2025-12-01",
        "answers": answers,
        **extra,
    }
    return api.post("/api/v1/responses", json=body)


def test_calculations_are_kept_exactly_in_the_instrument_file(anthropometry):
    text = anthropometry.read_text()
    assert 'calculation = "round(([weight]*10000)/([height])^2,1)"' in text
    assert "show_if = \"[symptoms(3)] = '1' and [cigs] >= 10 or" in text
    definition = load_definition_file(anthropometry)
    scores = {s.name: s for s in definition.scores}
    assert scores["bmi"].method == "calc" and scores["bmi"].items == ("weight", "height")


def test_bmi_and_other_calculations_through_the_api(anthropometry, api_as, make_participant):
    api = api_as("research_worker", ["BU"])
    person = make_participant("BU", enrolment_date=date(2025, 1, 31))
    answers = {
        "visit_date": "2025-12-01",
        "weight": 70,
        "height": 175,
        "smoker": True,
        "cigs": 15,
    }
    created = post(api, person, answers)
    assert created.status_code == 201, created.json
    assert created.json["scores"] == {
        "bmi": 22.9,  # 700000 / 30625 = 22.857...
        "mean_size": 122.5,
        "pack_years": 0.75,
        "days_since": 31.0,
    }
    url = f"/api/v1/responses/{created.json['id']}"
    # a blank height: BMI is blank, the mean ignores it; a non-smoker's cigs are hidden
    changed = api.patch(
        url,
        json={"answers": {"height": None, "smoker": False}},
        headers={"If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.json
    assert "cigs" not in changed.json["answers"]
    assert changed.json["scores"] == {"mean_size": 70.0, "pack_years": 0.0, "days_since": 31.0}
    assert api.get(url).json["scores"] == changed.json["scores"]


def test_branching_logic_is_checked_by_the_api(anthropometry, api_as, make_participant):
    api = api_as("research_worker", ["BU"])
    person = make_participant("BU", enrolment_date=date(2025, 1, 31))
    base = {"weight": 70, "height": 175, "smoker": True, "symptoms": ["3"]}
    hidden = post(api, person, {**base, "cigs": 5, "sleep_hours": 7})
    assert hidden.status_code == 422
    (message,) = hidden.json["errors"]["answers"]["sleep_hours"]
    assert "[symptoms(3)] = '1' and [cigs] >= 10" in message
    # and: option 3 ticked and 10 or more a day
    assert post(api, person, {**base, "cigs": 12, "sleep_hours": 7}).status_code == 201
    # or: answered cigs and a weight above 100, without option 3
    heavy = {**base, "symptoms": ["1"], "weight": 120, "cigs": 1, "sleep_hours": 6}
    assert post(api, person, heavy).status_code == 201
    # an empty test: the note is asked only while height is blank
    assert post(api, person, {"sleep_note": "scale broken"}).status_code == 201
    refused = post(api, person, {"height": 170, "sleep_note": "scale broken"})
    assert "sleep_note" in refused.json["errors"]["answers"]


def test_the_page_shows_the_calculated_bmi(
    anthropometry, app, make_user, make_participant, db_session
):
    person = make_participant("BU", enrolment_date=date(2025, 1, 31))
    client = page_as(app, make_user, "research_worker", ["BU"])
    url = f"/questionnaires/new?participant_id={person.id}&instrument=anthropometry"
    form = client.get(url).get_data(as_text=True)
    assert 'id="q-sleep_note" data-show-logic="' in form
    saved = client.post(
        url,
        data={
            "collected_on": "2025-12-01",
            "a.weight": "70",
            "a.height": "175",
            "a.smoker": "false",
        },
    )
    assert saved.status_code == 302, saved.get_data(as_text=True)[:2000]
    page = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "<dt>Body mass index</dt><dd><strong>22.9</strong></dd>" in page


def test_an_unsupported_function_is_refused_with_its_line(app, tmp_path):
    source = tmp_path / "scores.csv"
    lines = DICTIONARY.read_text().splitlines()
    lines.insert(4, 'spread,anthropometry,,calc,Spread,"stdev([weight],[height])",,,,,,,,,,,,')
    source.write_text("\n".join(lines) + "\n")
    result = app.test_cli_runner().invoke(
        args=["instruments", "import-redcap", str(source), "--out", str(tmp_path / "defs")]
    )
    assert result.exit_code != 0
    assert (
        "scores.csv: line 5: spread: calculation 'stdev([weight],[height])': "
        "function 'stdev' is not supported"
    ) in result.output
    assert not (tmp_path / "defs").exists()


def test_an_instrument_file_with_bad_logic_is_refused_naming_file_and_field(anthropometry):
    text = anthropometry.read_text()
    broken = text.replace("[cigs] >= 10", "[cigs] >= 10 and [diet] = '1'").replace(
        "mean([weight],[height])", "median([weight],[height])"
    )
    anthropometry.write_text(broken)
    with pytest.raises(DefinitionError) as caught:
        load_definition_file(anthropometry)
    found = {(p.file, p.field) for p in caught.value.problems}
    assert found == {
        ("anthropometry.toml", "fields.sleep_hours.show_if"),
        ("anthropometry.toml", "scores.mean_size.calculation"),
    }
    reasons = " ".join(p.reason for p in caught.value.problems)
    assert "'diet' is not an earlier field of this instrument" in reasons
    assert "function 'median' is not supported" in reasons


VITALS = """
name = "vitals"
version = 1
title = "Vital signs"
events = ["T0"]

[[fields]]
name = "weight_kg"
type = "decimal"
label = "Weight (kg)"

[[fields]]
name = "height_cm"
type = "decimal"
label = "Height (cm)"

[[scores]]
name = "bmi"
label = "Body mass index"
calculation = "round(([weight_kg]*10000)/([height_cm])^2,1)"
"""


def test_bmi_in_the_redcap_compatible_export(app, tmp_path, api_as, make_participant, client):
    folder = tmp_path / "vitals"
    folder.mkdir()
    (folder / "vitals.toml").write_text(VITALS)
    synced = app.test_cli_runner().invoke(args=["instruments", "sync", "--dir", str(folder)])
    assert synced.exit_code == 0, synced.output
    api = api_as("research_worker", ["BU"])
    person = make_participant("BU", enrolment_date=date(2025, 1, 31))
    body = {
        "participant_id": person.id,
        "instrument": "vitals",
        "event": "T0",
        "collected_on": "2025-02-01",
        "answers": {"weight_kg": 70, "height_cm": 175},
    }
    assert api.post("/api/v1/responses", json=body).status_code == 201
    redcap = RedcapClient(client, redcap_token(api.user))
    (row,) = [r for r in redcap.records() if r["study_id"] == person.study_id]
    assert row["bmi"] == "22.9"
    metadata = {m["field_name"]: m for m in redcap.export("metadata")}
    assert metadata["bmi"]["field_type"] == "calc"
    assert metadata["bmi"]["select_choices_or_calculations"] == (
        "round(([weight_kg]*10000)/([height_cm])^2,1)"
    )
