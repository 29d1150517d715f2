"""Benchmark: Table 1 (baseline characteristics) against tableone, equal values.

    .venv/bin/python bench/vs_tableone.py                    # 10,000 service users
    .venv/bin/python bench/vs_tableone.py --size 10k,100k --data /tmp/trials

For each size it generates the synthetic trial of ``bench/summaries.py`` on SQLite
(50 sites), then, in one process and alternating rounds, computes the shipped
baseline table two ways:

- **ours**: ``compute_table`` of the table file, grouped by site × arm (as shipped)
  and by arm only (the same file with ``by = ["arm"]``): SQL aggregates in SQLite;
- **tableone**: ``TableOne`` (pandas) over a data frame of the same people, one
  column per variable (age twice: mean (SD) and median [Q1,Q3]; one yes/no column
  per diagnosis), grouped by the same columns, no p-values.

The data frame is read by one hand-written SELECT (no product code) before the
clock: tableone's time is its computation alone, the stricter comparison; the
read is printed apart. Every number of both tables is compared (n, %, mean, SD,
median, quartiles of every column) and a difference fails the run. It prints each
side's least CPU time over ``--rounds`` and the ratio tableone / ours (aim ≥ 10).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.summaries import DIAGNOSES, SIZES, generate_in_child, make_app  # noqa: E402
from trialdm.summaries.engine import TOTAL  # noqa: E402

AIM = 10.0
GROUPINGS = {"site × arm": ("site", "arm"), "arm": ("arm",)}
CATEGORICAL = {"gender": "Gender", "marital_status": "Marital status", "occupation": "Employment"}

READ_SQL = (
    "SELECT id, site_code AS site, arm, gender, marital_status, occupation, years_of_illness, "
    "coalesce(age, CAST(strftime('%Y', enrolment_date) AS INTEGER) - year_of_birth) AS age "
    "FROM participants WHERE category = 'service_user' AND deleted_at IS NULL "
    "AND enrolment_date IS NOT NULL"
)


def arm_only_spec(folder: Path, instruments_dir: str):
    """The shipped baseline table file with its columns by arm alone."""
    from trialdm.summaries.registry import SHIPPED_TABLES, read_catalogue

    text = (SHIPPED_TABLES / "baseline_characteristics.toml").read_text()
    text = text.replace('by = ["site", "arm"]', 'by = ["arm"]')
    text = text.replace('headers = ["{site_name}, {site_country} ({site})", "{arm}"]', "")
    text = text.replace('name = "baseline_characteristics"', 'name = "baseline_by_arm"')
    assert 'by = ["arm"]' in text, "the shipped file's columns changed: update this bench"
    tables = folder / "tables"
    tables.mkdir(exist_ok=True)
    (tables / "baseline_by_arm.toml").write_text(text)
    catalogue = read_catalogue([tables], instruments_dir)
    assert not catalogue.problems, catalogue.problems
    return catalogue.specs["baseline_by_arm"]


def read_frame(url: str):
    import pandas as pd
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.connect() as conn:
        frame = pd.read_sql_query(READ_SQL, conn)
        codes = pd.read_sql_query(
            "SELECT participant_id AS id, code FROM participant_diagnoses", conn
        )
    engine.dispose()
    frame["age_median"] = frame["age"]
    frame["arm"] = frame["arm"].fillna("")
    for code in DIAGNOSES:
        having = set(codes.loc[codes["code"] == code, "id"])
        frame[f"dx_{code}"] = frame["id"].isin(having).map({True: "yes", False: "no"})
    frame["group"] = frame["site"] + "|" + frame["arm"]
    return frame


def tableone(frame, by: tuple[str, ...]):
    from tableone import TableOne

    categorical = [*CATEGORICAL, *(f"dx_{c}" for c in DIAGNOSES)]
    return TableOne(
        frame,
        columns=["age", "age_median", "years_of_illness", *categorical],
        categorical=categorical,
        nonnormal=["age_median"],
        groupby="group" if len(by) == 2 else "arm",
        pval=False,
        decimals=6,
    ).tableone


def numbers(text: Any) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", str(text))]


def _norm(label: str) -> str:
    return label.replace("_", " ").strip().lower()


def compare(ours: dict[str, Any], theirs, frame, vocabulary: dict[str, str]) -> int:
    """Every number of our table against tableone's; returns the numbers compared."""
    theirs.columns = [c[1] for c in theirs.columns]
    names = ["|".join("" if v is None else str(v) for v in c["key"]) for c in ours["columns"]]
    names = ["Overall" if TOTAL[0] in name else name for name in names]
    stats: dict[str, list[Any]] = {}
    lines: dict[tuple[str, str], list[Any]] = {}
    heading = ""
    for row in ours["rows"]:
        cells = [cell["values"] for cell in row["cells"]]
        if row["kind"] in ("heading", "stat"):
            heading = row["label"]
            stats[heading] = cells
        elif row["kind"] == "missing":
            lines[(heading, "missing")] = cells
        else:
            lines[(heading, _norm(row["label"]))] = cells
    compared = 0

    def same(mine: list[float], reference: list[float], what: str) -> None:
        nonlocal compared
        if len(mine) != len(reference) or any(
            abs(a - b) > 1e-4 * max(1.0, abs(b)) for a, b in zip(mine, reference, strict=False)
        ):
            raise SystemExit(f"values differ at {what}: ours {mine}, tableone {reference}")
        compared += len(mine)

    def line(heading: str, level: str) -> list[Any]:
        if level == "None":
            return lines[(heading, "missing")]
        for (head, label), cells in lines.items():
            if head == heading and (label == _norm(level) or label.split()[0] == _norm(level)):
                return cells
        found = [label for head, label in lines if head == heading]
        raise SystemExit(f"no line {level!r} under {heading!r} in our table (it has {found})")

    for index, column in enumerate(names):
        people = (
            frame
            if column == "Overall"
            else frame[(frame["group"] if "|" in column else frame["arm"]) == column]
        )
        same([float(stats["N"][index][0])], [float(len(people))], f"N {column}")
        for variable, label in (
            ("age", "Age in years, mean (SD)"),
            ("years_of_illness", "Years of illness, mean (SD)"),
        ):
            same(
                [float(v) for v in stats[label][index]],
                numbers(theirs.loc[(f"{variable}, mean (SD)", ""), column]),
                f"{label} {column}",
            )
        same(
            [float(v) for v in stats["Age in years, median (IQR)"][index]],
            numbers(theirs.loc[("age_median, median [Q1,Q3]", ""), column]),
            f"median {column}",
        )
        for variable, heading in CATEGORICAL.items():
            reference = theirs.loc[f"{variable}, n (%)"]
            for level in reference.index:
                n, pct = numbers(reference.loc[level, column])
                mine = line(f"{heading}, n (%)", str(level))[index]
                same([float(mine[0]), float(mine[1]) * 100], [n, pct], f"{variable}={level}")
        for code in DIAGNOSES:
            reference = theirs.loc[f"dx_{code}, n (%)"]
            n, pct = numbers(reference.loc["yes", column]) if "yes" in reference.index else (0, 0)
            mine = line("Diagnoses, n (%) of participants", vocabulary.get(code, code))[index]
            same([float(mine[0]), float(mine[1]) * 100], [n, pct], f"diagnosis {code}")
    return compared


def run_size(n: int, folder: Path, rounds: int) -> dict[str, Any]:
    from datetime import UTC, datetime

    from trialdm.core.scoping import all_sites
    from trialdm.extensions import db
    from trialdm.participants.vocabulary import diagnosis_vocabulary
    from trialdm.summaries.engine import compute_table
    from trialdm.summaries.registry import specs
    from trialdm.summaries.spec import BuildContext

    url = generate_in_child(folder, n)
    began = time.perf_counter()
    frame = read_frame(url)
    read_seconds = time.perf_counter() - began
    app = make_app(folder, url, web=False)
    out: dict[str, Any] = {"n": n, "read": read_seconds}
    with app.app_context(), all_sites():
        grouped = {
            "site × arm": specs()["baseline_characteristics"],
            "arm": arm_only_spec(folder, app.config["INSTRUMENTS_DIR"]),
        }
        vocabulary = diagnosis_vocabulary(app.config["DIAGNOSIS_VOCABULARY"])

        def ours(spec) -> dict[str, Any]:
            ctx = BuildContext(
                session=db.session,
                read_at=datetime.now(UTC),
                diagnosis_vocabulary=vocabulary,
            )
            result = compute_table(spec, ctx).as_json()
            db.session.rollback()
            return result

        for name, spec in grouped.items():
            by = GROUPINGS[name]
            best = {"ours": float("inf"), "tableone": float("inf")}
            result = theirs = None
            for _ in range(rounds):
                cpu = time.process_time()
                result = ours(spec)
                best["ours"] = min(best["ours"], time.process_time() - cpu)
                cpu = time.process_time()
                theirs = tableone(frame, by)
                best["tableone"] = min(best["tableone"], time.process_time() - cpu)
            compared = compare(result, theirs, frame, dict(vocabulary))
            out[name] = {**best, "compared": compared, "columns": len(result["columns"])}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="10k", help="comma-separated: upsides, 10k, 100k, 1m")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", help="keep the generated trials under this folder")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # pandas' and tableone's own
    failed = False
    print(
        f"{'size':>9} {'grouped by':<11} {'columns':>7} {'ours s':>8} {'tableone s':>10} "
        f"{'ratio':>6} {'numbers equal':>13}  aim ≥ {AIM:g}"
    )
    for size in args.size.split(","):
        n = SIZES[size]
        if args.data:
            folder = Path(args.data) / str(n)
            folder.mkdir(parents=True, exist_ok=True)
            result = run_size(n, folder, args.rounds)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                result = run_size(n, Path(tmp), args.rounds)
        for name in GROUPINGS:
            row = result[name]
            ratio = row["tableone"] / row["ours"]
            met = ratio >= AIM
            failed |= not met
            print(
                f"{n:>9,} {name:<11} {row['columns']:>7} {row['ours']:>8.3f} "
                f"{row['tableone']:>10.3f} {ratio:>6.1f} {row['compared']:>13,}  "
                f"{'met' if met else 'missed'}"
            )
        print(f"{'':>9} (reading the data frame for tableone: {result['read']:.2f} s wall)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
