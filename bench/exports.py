"""Benchmark: a full item-level export (CSV and Stata) on a synthetic trial.

    .venv/bin/python bench/exports.py                  # quick: 10,000 service users
    .venv/bin/python bench/exports.py --size 10k,100k

For each size it generates the summaries benchmark's trial (50 sites, diagnoses,
contacts, responses to every due instrument) and gives every response an answer
to each of its instrument's fields, then runs in fresh processes (so peak memory
is each run's own):

- **csv**, **stata**: the export job as a worker builds it (``build_job``) with
  the datasets every instrument, ``participants`` and ``contacts``;
- **floor**: the same rows by one hand-written SQL query per dataset (instrument
  answers pivoted with ``GROUP BY``), written with the csv module, no codebook.

It prints wall and CPU time, each run's ratio to the floor, peak RSS and the SQL
statements run. Aims (issue 14): CSV within 1.5x of the floor, Stata within 3x,
peak memory under 200 MB at both sizes, the query count flat in participants.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from measuring import peak_mb  # noqa: E402

SIZES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000}
DATASETS = ("participants", "contacts")


def summaries_bench():
    spec = importlib.util.spec_from_file_location("bench_summaries", ROOT / "bench/summaries.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def definitions(conn) -> dict[str, Any]:
    from trialdm.instruments.definitions import InstrumentDefinition

    rows = conn.exec_driver_sql(
        "SELECT name, definition FROM instrument_versions v WHERE version = "
        "(SELECT max(version) FROM instrument_versions w WHERE w.name = v.name)"
    )
    return {
        name: InstrumentDefinition.from_dict(json.loads(raw) if isinstance(raw, str) else raw)
        for name, raw in rows
    }


def add_answers(url: str) -> int:
    """One answer per field of each response (a choice per multiple choice), set-based."""
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as conn:
        for name, d in definitions(conn).items():
            for f in d.fields:
                values = {"value_text": "NULL", "value_number": "NULL", "value_date": "NULL"}
                if f.type in ("single_choice", "multiple_choice"):
                    codes = [c.value for c in f.choices]
                    cases = " ".join(f"WHEN {i} THEN '{c}'" for i, c in enumerate(codes))
                    values["value_text"] = f"CASE id % {len(codes)} {cases} END"
                elif f.type == "text":
                    values["value_text"] = "'text ' || id"
                elif f.type == "yes_no":
                    values["value_text"] = "CASE id % 2 WHEN 1 THEN 'yes' ELSE 'no' END"
                    values["value_number"] = "id % 2"
                elif f.type == "date":
                    values["value_date"] = "collected_on"
                elif f.type == "decimal":
                    values["value_number"] = "(id % 100) / 4.0"
                else:
                    low = int(f.min) if f.min is not None else 0
                    high = int(f.max) if f.max is not None else 100
                    values["value_number"] = f"{low} + id % {high - low + 1}"
                conn.exec_driver_sql(
                    "INSERT INTO response_answers (site_code, response_id, field, position, "
                    "value_text, value_number, value_date, computed) "
                    f"SELECT site_code, id, '{f.name}', 0, {values['value_text']}, "
                    f"{values['value_number']}, {values['value_date']}, 0 "
                    f"FROM responses WHERE instrument_name = '{name}'"
                )
        conn.exec_driver_sql("ANALYZE")
        total = conn.exec_driver_sql("SELECT count(*) FROM response_answers").scalar()
    engine.dispose()
    return int(total or 0)


def count_queries(engine) -> list[int]:
    from sqlalchemy import event

    counter = [0]

    @event.listens_for(engine, "before_cursor_execute")
    def count(*args: Any) -> None:
        counter[0] += 1

    return counter


def run_ours(folder: Path, url: str, fmt: str) -> dict[str, Any]:
    from trialdm.core.scoping import all_sites
    from trialdm.exports.archive import dataset_names
    from trialdm.exports.models import ExportJob
    from trialdm.exports.operations import CreateExportJob, build_job
    from trialdm.extensions import db

    app = summaries_bench().make_app(folder, url)
    with app.app_context(), all_sites():
        from trialdm.exports.tables import TABLES

        names = [n for n in dataset_names(db.session) if n not in TABLES] + list(DATASETS)
        job = CreateExportJob("all", fmt, names, "raw", "include", None, "bench").run(
            db.session, queue=False
        )
        db.session.commit()
        counter = count_queries(db.engine)
        began, cpu = time.perf_counter(), time.process_time()
        state = build_job(db.session, job.id)
        elapsed = time.perf_counter() - began
        cpu = time.process_time() - cpu
        job = db.session.get(ExportJob, job.id)
        if state != "done":
            raise SystemExit(f"export {state}: {job.error}")
        rows = sum(info["rows"] for info in job.result.values())
    return {"seconds": elapsed, "cpu": cpu, "queries": counter[0], "rows": rows}


def run_floor(folder: Path, url: str, fmt: str) -> dict[str, Any]:
    """One hand-written SQL query per dataset, written with the csv module."""
    from sqlalchemy import create_engine

    engine = create_engine(url)
    counter = count_queries(engine)
    began, cpu = time.perf_counter(), time.process_time()
    rows = 0
    with engine.connect() as conn:
        found = definitions(conn)
        statements = {}
        for name, d in sorted(found.items()):
            columns = []
            for f in d.fields:
                if f.type == "multiple_choice":
                    columns += [
                        f"max(CASE WHEN a.field = '{f.name}' AND a.value_text = '{c.value}' "
                        "THEN 1 ELSE 0 END)"
                        for c in f.choices
                    ]
                else:
                    value = {
                        "text": "a.value_text",
                        "single_choice": "a.value_text",
                        "date": "a.value_date",
                    }.get(f.type, "a.value_number")
                    columns.append(f"max(CASE WHEN a.field = '{f.name}' THEN {value} END)")
            statements[name] = (
                "SELECT p.study_id, r.site_code, p.arm, r.event, v.version, r.status, "
                f"r.collected_on, {', '.join(columns)} FROM responses r "
                "JOIN participants p ON p.id = r.participant_id "
                "JOIN instrument_versions v ON v.id = r.instrument_version_id "
                "LEFT JOIN response_answers a ON a.response_id = r.id "
                f"WHERE r.instrument_name = '{name}' AND r.deleted_at IS NULL "
                "AND p.deleted_at IS NULL GROUP BY r.id ORDER BY p.study_id, r.id"
            )
        statements["participants"] = (
            "SELECT p.study_id, p.site_code, p.category, p.gender, p.year_of_birth, p.age, "
            "p.marital_status, p.occupation, p.years_of_illness, p.years_in_care, "
            "p.enrolment_date, p.consent_date, p.consent_version, p.arm, p.status, "
            "p.withdrawal_date, p.withdrawal_reason, p.intervention_start, "
            "p.training_completed, p.active, p.profession, group_concat(d.code, '; '), "
            "r.randomised_at, r.randomised_by_id, r.randomised_by_email, r.arm, r.stratum, "
            "(SELECT group_concat(e.kind, '; ') FROM randomisation_errors e "
            "WHERE e.randomisation_id = r.id) "
            "FROM participants p LEFT JOIN participant_diagnoses d ON d.participant_id = p.id "
            "LEFT JOIN randomisations r ON r.participant_id = p.id "
            "WHERE p.deleted_at IS NULL GROUP BY p.id ORDER BY p.study_id"
        )
        statements["contacts"] = (
            "SELECT s.id, s.site_code, p.study_id, p.arm, s.date, s.start_time, s.format, "
            "s.mode, s.duration_min, s.place, s.notes, (SELECT group_concat(w.study_id, '; ') "
            "FROM contact_session_psws l JOIN participants w ON w.id = l.psw_id "
            "WHERE l.session_id = s.id) FROM contact_sessions s "
            "JOIN contact_attendances a ON a.session_id = s.id "
            "JOIN participants p ON p.id = a.participant_id "
            "WHERE s.deleted_at IS NULL ORDER BY s.id, p.study_id"
        )
        for name, sql in statements.items():
            with open(folder / f"floor-{name}.csv", "w", newline="", encoding="utf-8") as out:
                writer = csv.writer(out)
                result = conn.execution_options(stream_results=True, yield_per=2000)
                for row in result.exec_driver_sql(sql):
                    writer.writerow(row)
                    rows += 1
    elapsed = time.perf_counter() - began
    cpu = time.process_time() - cpu
    return {"seconds": elapsed, "cpu": cpu, "queries": counter[0], "rows": rows}


def child(kind: str, folder: str, url: str) -> None:
    result = (
        run_floor(Path(folder), url, kind) if kind == "floor" else run_ours(Path(folder), url, kind)
    )
    result["peak_mb"] = peak_mb()
    print(json.dumps(result))


def measure(kind: str, folder: Path, url: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--folder", str(folder), "--url", url],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if out.returncode:
        raise SystemExit(f"{kind} run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="10k", help="10k, 100k, 1m or a comma list")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.folder, args.url)
        return
    print(
        f"{'participants':>12} {'run':>6} {'rows':>10} {'wall s':>8} {'ratio':>6} "
        f"{'cpu s':>7} {'cpu ratio':>9} {'peak MB':>8} {'queries':>8}"
    )
    for label in args.size.split(","):
        n = SIZES.get(label.strip().lower()) or int(label)
        with tempfile.TemporaryDirectory(prefix="trialdm-bench-") as tmp:
            folder = Path(tmp)
            url = summaries_bench().generate(folder, n)
            add_answers(url)
            floor = measure("floor", folder, url)
            for kind, result in (
                ("floor", floor),
                ("csv", measure("csv", folder, url)),
                ("stata", measure("stata", folder, url)),
            ):
                print(
                    f"{n:>12,} {kind:>6} {result['rows']:>10,} {result['seconds']:>8.2f} "
                    f"{result['seconds'] / floor['seconds']:>6.2f} {result['cpu']:>7.2f} "
                    f"{result['cpu'] / floor['cpu']:>9.2f} {result['peak_mb']:>8.0f} "
                    f"{result['queries']:>8}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
