"""Small-cell suppression: what is hidden cannot be worked out from what is printed.

The checker here is independent of the implementation: it reads the printed
texts, writes down the sums a reader knows (categories add up to the column N,
groups add up to the total column, a breakdown's parts add up to its total) and
asks numpy whether any hidden count is fixed by them (its unit vector lies in
the row space of the sums over the hidden terms)."""

from __future__ import annotations

import io
import random
import re
from datetime import UTC, date, datetime
from types import SimpleNamespace

import docx
import numpy as np
import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trialdm.summaries import operations
from trialdm.summaries.engine import (
    Cell,
    Column,
    Printer,
    ResultRow,
    TableResult,
    breakdown_text,
)
from trialdm.summaries.suppression import suppress_small_cells

HIDDEN = re.compile(r"^(<\d+|\[c\])$")
COUNT = re.compile(r"^(\d+)( \((\d+(?:\.\d+)?)%\))?$")

Coord = tuple[int, int, str | None]
NOTHING_ON_CREATION = """
[service_user]
on_creation = []
on_enrolment = ["consent_date", "consent_version", "arm"]
"""  # row, column, breakdown part (None: the cell)


def printed_count(text: str) -> int | None:
    """The count a reader sees in a cell; None when hidden."""
    if HIDDEN.match(text):
        return None
    match = COUNT.match(text)
    assert match, f"unexpected printed text {text!r}"
    return int(match.group(1))


def derivable(unknowns: list[Coord], sums: list[tuple[list[Coord], Coord]]) -> set[Coord]:
    """Hidden terms fixed by the sums: e_i in the row space of the hidden part."""
    index = {u: i for i, u in enumerate(unknowns)}
    rows = []
    for members, margin in sums:
        row = np.zeros(len(unknowns))
        for coord, sign in [*((m, 1) for m in members), (margin, -1)]:
            if coord in index:
                row[index[coord]] += sign
        if row.any():
            rows.append(row)
    if not rows:
        return set()
    matrix = np.array(rows)
    rank = np.linalg.matrix_rank(matrix)
    found = set()
    for coord, i in index.items():
        unit = np.zeros(len(unknowns))
        unit[i] = 1
        if np.linalg.matrix_rank(np.vstack([matrix, unit])) == rank:
            found.add(coord)
    return found


# ------------------------------------------------------------ random tables


def random_table(people: list[tuple[int, int, int]], groups: int, categories: int, total: bool):
    """A table like the shipped ones, from people (group, category, gender):
    N row, a categorical block whose lines add up to N (with "Missing" for
    category -1), a breakdown ``n (f=.., m=..)`` and a mean of the categorised."""
    style = SimpleNamespace(pct_decimals=1, pct_sign=True, zero=None)
    printer = Printer(style, SimpleNamespace(suppress_below=0))
    keys = list(range(groups)) + (["total"] if total else [])

    def members(key):
        return [p for p in people if key == "total" or p[0] == key]

    columns = [Column((k,), f"Group {k}", None, len(members(k))) for k in keys]
    rows = [ResultRow("N", "stat", [printer.count(len(members(k))) for k in keys], 0, "n")]
    rows.append(
        ResultRow(
            "N (gender)",
            "stat",
            [
                printer.breakdown(
                    len(members(k)),
                    [
                        (label, sum(1 for p in members(k) if p[2] == g))
                        for g, label in ((0, "f"), (1, "m"))
                    ],
                )
                for k in keys
            ],
            1,
            "breakdown",
        )
    )
    rows.append(ResultRow("Category, n (%)", "heading", [Cell("") for _ in keys], 2, "n_pct"))
    for value in [*range(categories), -1]:
        cells = [
            printer.n_pct(sum(1 for p in members(k) if p[1] == value), len(members(k)))
            for k in keys
        ]
        kind, label = ("missing", "Missing") if value < 0 else ("category", f"C{value}")
        rows.append(ResultRow(label, kind, cells, 2, "n_pct"))
    means = []
    for k in keys:
        known = [p[1] for p in members(k) if p[1] >= 0]
        cell = Cell(f"{sum(known) / len(known):.1f}" if known else "–", basis=len(known))
        means.append(cell)
    rows.append(ResultRow("Category, mean", "stat", means, 3, "mean_sd"))
    missing = [
        printer.n_pct(len(members(k)) - cell.basis, len(members(k)))
        for k, cell in zip(keys, means, strict=True)
    ]
    rows.append(ResultRow("Missing", "missing", missing, 3, "mean_sd"))
    return TableResult("t", "T", "", columns, rows, [], has_total=total)


def sums_of(
    table: dict, total: bool, bases: list[int]
) -> tuple[list[Coord], list[tuple[list[Coord], Coord]], dict]:
    """The printed values, the hidden cells and the sums a reader of ``table`` knows."""
    rows = table["rows"]
    width = len(table["columns"])
    known: dict[Coord, int | None] = {}
    mean_row = next(r for r, row in enumerate(rows) if row["label"] == "Category, mean")
    for r, row in enumerate(rows):
        if row["kind"] == "heading":
            continue
        for c, cell in enumerate(row["cells"]):
            text = cell["text"]
            if r == mean_row:
                # how many people the mean is of: N - Missing, whenever it is shown
                known[(r, c, None)] = None if HIDDEN.match(text) else bases[c]
            elif row["label"] == "N (gender)":
                head, _, inner = text.partition(" (")
                known[(r, c, None)] = printed_count(head)
                if known[(r, c, None)] is None:  # a hidden cell: its parts are unknown
                    known.update({(r, c, label): None for label in ("f", "m")})
                for part in filter(None, inner.rstrip(")").split(", ")):
                    label, _, shown = part.partition("=")
                    known[(r, c, label)] = printed_count(shown)
            else:
                known[(r, c, None)] = printed_count(text)
    sums: list[tuple[list[Coord], Coord]] = []
    n_row, gender_row = 0, 1
    lines = [r for r, row in enumerate(rows[:mean_row]) if row["kind"] in ("category", "missing")]
    for c in range(width):
        sums.append(([(r, c, None) for r in lines], (n_row, c, None)))
        sums.append(([(mean_row, c, None), (mean_row + 1, c, None)], (n_row, c, None)))
        parts = [k for k in known if k[:2] == (gender_row, c) and k[2]]
        if parts or known[(gender_row, c, None)] == 0:  # a hidden cell prints no parts
            sums.append((parts, (gender_row, c, None)))
        sums.append(([(n_row, c, None)], (gender_row, c, None)))  # the same N twice
    if total:
        last = width - 1
        for r in [n_row, *lines, mean_row, mean_row + 1]:
            sums.append(([(r, c, None) for c in range(last)], (r, last, None)))
        for label in ("f", "m"):
            terms = [(gender_row, c, label) for c in range(last) if (gender_row, c, label) in known]
            if (gender_row, last, label) in known:
                sums.append((terms, (gender_row, last, label)))
    unknowns = [coord for coord, value in known.items() if value is None]
    return unknowns, sums, known


people_strategy = st.lists(
    st.tuples(st.integers(0, 3), st.integers(-1, 3), st.integers(0, 1)), min_size=1, max_size=40
)


@settings(max_examples=300, deadline=None)
@given(
    people=people_strategy,
    groups=st.integers(1, 4),
    k=st.integers(2, 6),
    total=st.booleans(),
)
def test_no_hidden_count_can_be_worked_out(people, groups, k, total):
    people = [(g % groups, c, s) for g, c, s in people]
    original = random_table(people, groups, 4, total).as_json()
    result = suppress_small_cells(random_table(people, groups, 4, total), k, breakdown_text)
    table = result.as_json()
    keys = [*range(groups), *([groups] if total else [])]
    bases = [sum(1 for p in people if (key == groups or p[0] == key) and p[1] >= 0) for key in keys]
    unknowns, sums, known = sums_of(table, total, bases)
    mean_row = next(r for r, row in enumerate(table["rows"]) if row["label"] == "Category, mean")
    assert not derivable(unknowns, sums)
    for r, row in enumerate(table["rows"]):
        for c, cell in enumerate(row["cells"]):
            before = original["rows"][r]["cells"][c]["text"]
            if cell["text"].startswith("<"):
                assert cell["text"] == f"<{k}"
            if row["label"] == "Category, mean":
                basis = bases[c]
                assert (cell["text"] == f"<{k}") == (0 < basis < k)
                assert cell["text"] in (f"<{k}", "[c]", before)
                continue
            value = known.get((r, c, None))
            if value is not None and row["label"] != "N (gender)":
                # printed counts are true, and never 1 to k-1
                assert printed_count(before) == value and not 0 < value < k
                n_hidden = table["columns"][c]["n"] is None
                assert cell["text"] == (str(value) if n_hidden and value else before)
    for coord, value in known.items():
        assert value is None or not 0 < value < k or coord[0] == mean_row, coord
    assert table["footnotes"][-1].startswith(f"<{k}: fewer than {k} people")


def test_a_lone_hidden_site_gets_a_partner_and_the_total_stays(app):
    # sites of 10, 10, 2 people; the small site's N must not be 22 - 10 - 10
    people = [(0, 0, 0)] * 10 + [(1, 1, 1)] * 10 + [(2, 0, 0)] * 2
    table = suppress_small_cells(random_table(people, 3, 2, True), 5, breakdown_text).as_json()
    n_row = [c["text"] for c in table["rows"][0]["cells"]]
    assert n_row[2] == "<5" and n_row[3] == "22"
    assert sorted(n_row[:2]) == ["10", "[c]"]
    hidden_n = [c for c in table["columns"] if c["n"] is None]
    assert [c["n_text"] for c in hidden_n] == ["[c]", "<5"]
    # in the partner column the percentages would give back its N: counts only
    partner = n_row.index("[c]")
    shown = [r["cells"][partner]["text"] for r in table["rows"][3:-1]]
    assert not [t for t in shown if "%" in t and not t.startswith("0 ")]
    # its only category equals its N, so it is hidden as well
    assert "[c]" in shown


# ------------------------------------------------------------ through the job


@pytest.mark.parametrize("seed", [3, 11, 29])
def test_built_tables_hide_small_cells_for_good(
    app, api_as, db_session, make_participant, monkeypatch, seed, trial_minimum_record
):
    # Unknown genders make "Missing" lines to protect, so the trial here records
    # people without one.
    trial_minimum_record(NOTHING_ON_CREATION)
    rng = random.Random(seed)
    for _ in range(rng.randint(8, 16)):
        make_participant(
            rng.choice(["BU", "UKE", "PU"]),
            enrolment_date=date(2025, 1, 5),
            arm=rng.choice(["intervention", "control"]),
            gender=rng.choice(["female", "male", None]),
            marital_status=rng.choice(["single", "married", None]),
            occupation=rng.choice(["nurse", "teacher", None]),
        )
    monkeypatch.setitem(app.config, "SUPPRESS_BELOW", 3)
    coordinator = api_as("coordinator")
    job_id = coordinator.post("/api/v1/summaries", json={"scope": "all"}).json["id"]
    state = coordinator.get(f"/api/v1/summaries/{job_id}").json
    assert state["state"] == "done", state
    table = coordinator.get(f"/api/v1/summaries/{job_id}/tables/baseline_characteristics").json
    assert table["footnotes"][-1].startswith("<3: fewer than 3 people (1 to 2)")
    cover = openpyxl.load_workbook(
        io.BytesIO(coordinator.get(f"/api/v1/summaries/{job_id}/download").data)
    )["Cover"]
    small = next(r[1].value for r in cover.iter_rows() if r[0].value == "Small counts")
    assert small.startswith("1 to 2 people (and statistics of fewer than 3) shown as <3")

    # the sums a reader knows: each variable's lines add up to N, groups to the total
    rows = table["rows"]
    width = len(table["columns"])
    known: dict[Coord, int | None] = {}
    blocks: dict[str, list[int]] = {}
    heading = ""
    for r, row in enumerate(rows):
        if row["kind"] == "heading":
            heading = row["label"]
        counted = row["label"] == "N" or (
            row["kind"] in ("category", "missing") and "n (%)" in heading
        )
        if not counted:
            continue
        if row["kind"] != "stat" and not heading.startswith("Diagnoses"):
            blocks.setdefault(heading, []).append(r)
        for c, cell in enumerate(row["cells"]):
            known[(r, c, None)] = printed_count(cell["text"])
    n_row = next(r for r, row in enumerate(rows) if row["label"] == "N")
    sums = []
    for lines in blocks.values():
        for c in range(width):
            sums.append(([(r, c, None) for r in lines], (n_row, c, None)))
    for r in {coord[0] for coord in known}:
        sums.append(([(r, c, None) for c in range(width - 1)], (r, width - 1, None)))
    unknowns = [coord for coord, value in known.items() if value is None]
    assert not derivable(unknowns, sums)
    assert all(v is None or not 0 < v < 3 for v in known.values())

    # listings are left out everywhere
    listing = coordinator.get(f"/api/v1/summaries/{job_id}/tables/participant_listing").json
    assert "listing" not in listing
    assert "listing of individual people" in listing["footnotes"][-1]
    wb = openpyxl.load_workbook(
        io.BytesIO(coordinator.get(f"/api/v1/summaries/{job_id}/download").data)
    )
    sheet = wb["participant_listing"]
    assert "Participant" not in [c.value for row in sheet.iter_rows() for c in row]
    assert not wb["recruitment"]._charts
    document = docx.Document(
        io.BytesIO(
            coordinator.get(f"/api/v1/summaries/{job_id}/tables/participant_listing/docx").data
        )
    )
    assert len(document.tables) == 1
    # the numbers sheet gives away nothing the printed sheet hides
    values = wb["baseline_characteristics values"]
    hidden_marks = {"<3", "[c]"}
    printed = {}
    heading = ""
    for row in rows:
        if row["kind"] in ("heading", "stat"):
            heading = row["label"]
        line = "" if row["kind"] == "stat" else row["label"]
        for column, cell in zip(table["columns"], row["cells"], strict=True):
            printed[(heading, line, column["group"], column["label"])] = cell["text"]
    checked = 0
    for line in values.iter_rows(min_row=4):
        key = (line[0].value, line[1].value or "", line[2].value, line[3].value)
        if printed[key] in hidden_marks:
            assert line[5].value == printed[key]
            checked += 1
    assert checked


def test_small_counts_not_suppressed_without_the_setting(app, db_session, make_participant):
    make_participant("DS", enrolment_date=date(2025, 6, 1), gender="male")
    from tests.test_summaries_output import build

    job = build(db_session, ["baseline_characteristics", "participant_listing"], scope="DS")
    assert job.result["participant_listing"]["listing"]["rows"]
    assert not any("fewer than" in n for n in job.result["baseline_characteristics"]["footnotes"])
    wb = openpyxl.load_workbook(operations.workbook_path(job))
    assert wb["participant_listing"]["A3"].value == "Participant"


def test_count_rows_that_add_up_protect_each_other(app, db_session, make_participant):
    from trialdm.core.scoping import all_sites
    from trialdm.screening.operations import create_entry
    from trialdm.summaries.engine import compute_table
    from trialdm.summaries.registry import specs
    from trialdm.summaries.spec import BuildContext

    outcomes = {"UKE": [("eligible", 6), ("not_eligible", 5), ("declined", 1)]}
    outcomes["BU"] = [("eligible", 7), ("not_eligible", 4), ("declined", 4)]
    with all_sites():
        for site, counts in outcomes.items():
            for outcome, times in counts:
                for _ in range(times):
                    create_entry(
                        db_session,
                        {
                            "site": site,
                            "screening_date": date(2025, 1, 2),
                            "outcome": outcome,
                            "outcome_reason": "x",
                        },
                    )
        db_session.commit()
        ctx = BuildContext(db_session, datetime(2026, 1, 1, tzinfo=UTC), suppress_below=3)
        table = compute_table(specs()["recruitment"], ctx).as_json()
    rows = {r["label"]: [c["text"] for c in r["cells"]] for r in table["rows"]}
    uke = [c["label"] for c in table["columns"]].index("Hamburg, Germany (UKE)")
    assert rows["Declined"][uke] == "<3"
    # Screened 12 = 6 + 5 + 1: one more of the three is hidden, and so across sites
    column = [rows[label][uke] for label in ("Eligible", "Not eligible")]
    assert "[c]" in column
    known = {}
    lines = ["Screened", "Eligible", "Not eligible", "Declined"]
    for r, label in enumerate(lines):
        for c, text in enumerate(rows[label]):
            known[(r, c, None)] = printed_count(text)
    width = len(table["columns"])
    sums = [([(r, c, None) for r in (1, 2, 3)], (0, c, None)) for c in range(width)]
    sums += [([(r, c, None) for c in range(width - 1)], (r, width - 1, None)) for r in range(4)]
    unknowns = [coord for coord, value in known.items() if value is None]
    assert not derivable(unknowns, sums)


# ------------------------------------------------------------ a table file's style


STYLED = """
name = "styled"
title = "Participants by community"

[population]
from = "participants"
where = { category = ["service_user"] }

[variables]
age_years = { derive = "age", at = "enrolment" }

[labels.site]
BU = "Large community"
DS = "Small community"

[columns]
by = ["site"]
headers = ["{site}"]
with_n = "{label} (N = {N})"
total = true
total_label = "Overall"

[style]
percent_of = "non_missing"
percent_decimals = 0
n_pct_cells = 2
zero = "–"

[[rows]]
label = "Gender, n (%)"
stat = "n_pct"
variable = "gender"
categories = ["female", "male"]

[[rows]]
label = "Marital status, n (%)"
stat = "n_pct"
variable = "marital_status"
categories = ["single", "married"]
missing = "footnote"

[[rows]]
label = "Age, mean (SD)"
stat = "mean_sd"
variable = "age_years"
decimals = 1
"""


def test_a_styled_table_file_hides_its_header_n_and_percentages_that_give_counts_away(
    app, db_session, make_participant, trial_minimum_record, tmp_path
):
    import tomllib

    from trialdm.core.scoping import all_sites
    from trialdm.summaries.engine import compute_table
    from trialdm.summaries.registry import instrument_definitions
    from trialdm.summaries.spec import BuildContext
    from trialdm.summaries.specfiles import build_spec, parse_table
    from trialdm.summaries.workbook import Cover, render_workbook

    trial_minimum_record(NOTHING_ON_CREATION)
    spec = build_spec(
        parse_table(tomllib.loads(STYLED), "styled.toml", instrument_definitions("instruments"))
    )
    # BU: 7 people, one without a gender and one without a marital status; DS: 2
    for gender in ("female", "female", "female", "male", "male", None):
        make_participant(
            "BU", enrolment_date=date(2024, 1, 1), gender=gender, marital_status="single"
        )
    make_participant("BU", enrolment_date=date(2024, 1, 1), gender="male")
    for gender in ("female", "male"):
        make_participant(
            "DS", enrolment_date=date(2024, 1, 1), gender=gender, marital_status="married"
        )
    read_at = datetime(2026, 1, 1, tzinfo=UTC)
    with all_sites():
        plain = compute_table(spec, BuildContext(db_session, read_at)).as_json()
        ctx = BuildContext(db_session, read_at, suppress_below=3)
        result = compute_table(spec, ctx)
        render_workbook(
            tmp_path / "s.xlsx", Cover("t", "all", read_at, "t", "t", []), [result], ctx
        )
    table = result.as_json()

    groups = [c["group"] for c in plain["columns"][::2]]
    assert groups == [
        "Large community (N = 7)",
        "Small community (N = 2)",
        "Overall (N = 9)",
    ]
    # the header template prints the hidden N as its mark: DS's 2, and a partner
    hidden_groups = [c["group"] for c in table["columns"][::2]]
    assert hidden_groups[1] == "Small community (N = <3)"
    assert "(N = [c])" in hidden_groups[0] + hidden_groups[2]
    assert not any(c["n"] == 2 or c["n_text"] == "2" for c in table["columns"])

    rows = {r["label"]: [c["text"] for c in r["cells"]] for r in table["rows"]}
    plain_rows = {r["label"]: [c["text"] for c in r["cells"]] for r in plain["rows"]}
    # unsuppressed, the missing marital status is a footnote; suppressed, a line
    # whose count is hidden like any other
    assert "Marital status, n (%): no value recorded for 1 of 7" in " ".join(plain["footnotes"])
    assert not any("no value recorded" in f for f in table["footnotes"])
    missing_lines = [r for r in table["rows"] if r["kind"] == "missing"]
    assert len(missing_lines) == 3  # gender, marital status, age (a line by default)
    # BU's one missing gender is hidden; percentages of the non-missing would give
    # it back (N less the missing line), so that column prints counts only
    gender_missing = missing_lines[0]["cells"]
    assert gender_missing[0]["text"] == "<3"
    assert plain_rows["Female"][:2] == ["3", "50%"]
    assert missing_lines[1]["label"] == "Missing" and missing_lines[1]["cells"][0]["text"] == "<3"
    for line in ("Female", "Male"):
        n_cell, pct_cell = rows[line][:2]
        assert pct_cell == "" and n_cell in ("3", "[c]", "<3")
    # every shown count is true and never 1 to 2; every hidden one is marked
    for label, cells in rows.items():
        for before, after in zip(plain_rows.get(label, cells), cells, strict=False):
            assert after in (before, "", "<3", "[c]") or label == "Missing"
            assert not re.fullmatch(r"[12]", after)

    # the numbers sheet names what each value is and prints hidden cells as marks
    values = openpyxl.load_workbook(tmp_path / "s.xlsx")["styled values"]
    lines = [[c.value for c in line] for line in values.iter_rows(min_row=4)]
    assert {line[4] for line in lines} <= {"n", "%", "mean", "SD", "value"}
    gender_missing_values = [line for line in lines if line[:2] == ["Gender, n (%)", "Missing"]]
    assert gender_missing_values and gender_missing_values[0][5] == "<3"
