#!/usr/bin/env python3
"""Fidelity of intervention participants, as a ratio to a hand-written SQL floor.

For each backend (SQLite, and PostgreSQL with ``--database-url``) and each size, one
process builds a fresh database (migrated, then filled through the driver: ``COPY`` on
PostgreSQL, ``executemany`` on SQLite; ``ANALYZE`` after) and another, started fresh,
measures. The trial: six sites, a third of the service users in the control arm, the
others enrolled over two years, half of them randomised here (their window opens at
the stored allocation) and some with a typed ``intervention_start``; contacts per
participant from none to eight, some at deleted sessions, 5% withdrawn, so that every
status a trial has today appears (``not_started`` needs a window opening after today,
which no valid record has).

Three reads are timed, alternating with their floor in rounds (median seconds):

* ``trial``: every participant's row, all fetched (summaries, exports);
* ``site``: one site's rows (the dashboard, the reminder scan);
* ``one``: one participant (``fidelity_for``, as a participant page or a create reads
  it), 50 different people.

The floor is one hand-written SQL statement per dialect computing the same rows
(window, counts, status) in a single pass, written here without any product code; its
status counts are checked against the product's. The peak memory printed is the
measuring process's own (``VmHWM``, which a fresh ``exec`` resets).

    .venv/bin/python bench/fidelity.py [--sizes 10000,100000] [--rounds 5]
        [--database-url postgresql://postgres@127.0.0.1/trialdm_bench_fidelity]

Aim: the product within 2x the floor at every size, the ratio flat.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

from measuring import peak_mb
from scratch_databases import fresh_postgres

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SITES = ["BU", "ULM", "UKE", "DS", "PU", "BGU"]
MINIMUM, MONTHS, SLACK = 3, 6, 0.0
CHUNK = 50_000
STREAM = 5_000


def make_app(url: str, folder: str):
    from trialdm import create_app

    return create_app(
        {"DATABASE_URL": url, "SECRET_KEY": "bench", "BROKER_URL": "memory://"},
        environ={"TRIALDM_INSTANCE_PATH": folder},
    )


# -- building -------------------------------------------------------------------------


def rows(participants: int, seed: int, today: date):
    """Yield (table, columns, row tuples) chunks of the synthetic trial."""
    rng = random.Random(seed)
    people, lists, slots, allocations = [], [], [], []
    sessions, attendances = [], []
    session_id = 0
    psws = [(1 + i, site) for i, site in enumerate(SITES)]
    yield (
        "participants",
        ("id", "site_code", "category", "study_id", "training_completed", "active", "version_id"),
        [
            (pid, site, "psw", f"{site}-PSW", today - timedelta(days=1000), True, 1)
            for pid, site in psws
        ],
    )
    lists.append((1, "generated", "{}", participants, True))
    yield ("allocation_lists", ("id", "source", "scheme", "slot_count", "active"), lists)
    person_cols = (
        "id", "site_code", "category", "study_id", "enrolment_date", "consent_date", "arm",
        "status", "withdrawal_date", "intervention_start", "version_id",
    )  # fmt: skip
    for n in range(participants):
        pid = 100 + n
        site = SITES[n % len(SITES)]
        enrolled = today - timedelta(days=rng.randint(0, 730))
        arm = "control" if (n // len(SITES)) % 3 == 2 else "intervention"
        start = enrolled
        intervention_start = None
        allocated = arm == "intervention" and n % 2 == 0
        if allocated:
            start = enrolled + timedelta(days=rng.randint(0, 3))
            if start > today:
                start = enrolled
            slots.append((pid, 1, site, "", pid, arm))
            randomised_at = datetime.combine(start, clock(rng.randint(7, 18)), UTC)
            allocations.append((pid, pid, site, arm, "", 1, pid, pid, randomised_at))
        elif arm == "intervention" and rng.random() < 0.2:
            intervention_start = min(enrolled + timedelta(days=rng.randint(0, 20)), today)
            start = intervention_start
        withdrawn = rng.random() < 0.05
        withdrawal = None
        if withdrawn:
            withdrawal = min(enrolled + timedelta(days=rng.randint(5, 200)), today)
        people.append(
            (
                pid, site, "service_user", f"{site}-{n:07d}", enrolled, enrolled, arm,
                "withdrawn" if withdrawn else "enrolled", withdrawal, intervention_start, 1,
            )
        )  # fmt: skip
        if arm == "intervention":
            count = rng.choice((0, 1, 1, 2, 2, 3, 3, 4, 5, 8))
            span = max(1, min((today - start).days, 240))
            for _ in range(count):
                session_id += 1
                on = start + timedelta(days=rng.randint(0, span))
                deleted = datetime.combine(on, clock(12), UTC) if rng.random() < 0.02 else None
                sessions.append((session_id, site, on, "individual", "in_person", 1, deleted))
                attendances.append((session_id, session_id, site, pid))
        if len(people) >= CHUNK:
            yield ("participants", person_cols, people)
            yield from flush_rest(slots, allocations, sessions, attendances)
            people, slots, allocations, sessions, attendances = [], [], [], [], []
    yield ("participants", person_cols, people)
    yield from flush_rest(slots, allocations, sessions, attendances)


def flush_rest(slots, allocations, sessions, attendances):
    yield ("allocation_slots", ("id", "list_id", "site_code", "stratum", "position", "arm"), slots)
    yield (
        "randomisations",
        ("id", "participant_id", "site_code", "arm", "stratum", "list_id", "slot_id",
         "position", "randomised_at"),
        allocations,
    )  # fmt: skip
    yield (
        "contact_sessions",
        ("id", "site_code", "date", "format", "mode", "version_id", "deleted_at"),
        sessions,
    )
    yield ("contact_attendances", ("id", "session_id", "site_code", "participant_id"), attendances)


def build(url: str, folder: str, participants: int, seed: int) -> None:
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from trialdm.core.scoping import all_sites
    from trialdm.extensions import db
    from trialdm.sites.operations import load_site_files, sync_sites

    app = make_app(url, folder)
    with app.app_context(), all_sites():
        upgrade()
        sync_sites(db.session, load_site_files(Path(app.config["SITES_DIR"])))
        db.session.commit()
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            postgres = db.engine.dialect.name == "postgresql"
            for table, columns, chunk in rows(participants, seed, date.today()):
                if not chunk:
                    continue
                names = ", ".join(columns)
                if postgres:
                    with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                        for row in chunk:
                            copy.write_row(row)
                else:
                    marks = ", ".join("?" for _ in columns)
                    cursor.executemany(
                        f"INSERT INTO {table} ({names}) VALUES ({marks})",
                        [tuple(_sqlite(v) for v in row) for row in chunk],
                    )
            raw.commit()
            cursor.execute("ANALYZE")
            raw.commit()
        finally:
            raw.close()
        with db.engine.connect() as conn:
            counts = {
                table: conn.scalar(sa.text(f"SELECT count(*) FROM {table}"))
                for table in ("participants", "contact_attendances", "randomisations")
            }
    print(json.dumps(counts))


def _sqlite(value):
    # the stored forms SQLAlchemy uses on SQLite
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return value


# -- the floor ------------------------------------------------------------------------


def floor_sql(dialect: str, where: str) -> str:
    """The whole rule, by hand, in one pass over the contacts."""
    if dialect == "sqlite":
        start = "coalesce(date(r.randomised_at), p.intervention_start, p.enrolment_date)"
        shifted = f"date(ws, '+{MONTHS} months')"
        # the 29th-31st may overflow into the next month: clamp to the month's end
        end = (
            f"CASE WHEN substr(ws, 9, 2) <= '28' THEN {shifted} "
            f"WHEN strftime('%d', {shifted}) = strftime('%d', ws) THEN {shifted} "
            f"ELSE date(ws, 'start of month', '+{MONTHS + 1} months', '-1 day') END"
        )
        on = "date(:on)"

        def days(a: str, b: str) -> str:
            return f"CAST(julianday({b}) - julianday({a}) AS INTEGER)"

    else:
        start = (
            "coalesce((r.randomised_at AT TIME ZONE 'UTC')::date, p.intervention_start, "
            "p.enrolment_date)"
        )
        end = f"(ws + interval '{MONTHS} months')::date"
        on = "CAST(:on AS DATE)"

        def days(a: str, b: str) -> str:
            return f"({b} - {a})"

    # The window of each participant is computed once (materialised), then their
    # contacts are read by index and compared with it.
    return f"""
    WITH w AS MATERIALIZED (
      SELECT id, site_code, ws, {end} AS we, withdrawn FROM (
        SELECT p.id, p.site_code, {start} AS ws,
          CASE WHEN p.status = 'withdrawn' AND p.withdrawal_date <= {on} THEN 1 ELSE 0 END
            AS withdrawn
        FROM participants p
        LEFT JOIN randomisations r ON r.participant_id = p.id AND r.arm = 'intervention'
        WHERE p.category = 'service_user' AND p.arm = 'intervention'
          AND p.enrolment_date IS NOT NULL AND p.deleted_at IS NULL {where}
      ) AS people
    )
    SELECT id, site_code, first_contact, ws, we, total, inw,
      CASE WHEN ws > {on} THEN NULL WHEN {on} > we THEN 0 ELSE {days(on, "we")} + 1 END,
      CASE
        WHEN ws <= {on} AND inw >= {MINIMUM} THEN 'met'
        WHEN withdrawn = 1 THEN 'withdrawn'
        WHEN ws > {on} THEN 'not_started'
        WHEN {on} > we THEN 'not_met'
        WHEN {MINIMUM} * ({days("ws", on)} + 1) >= (inw + 1 + {SLACK}) * ({days("ws", "we")} + 1)
          THEN 'at_risk'
        ELSE 'on_track'
      END AS status
    FROM (
      SELECT w.id, w.site_code, w.ws, w.we, w.withdrawn, min(s.date) AS first_contact,
        count(s.id) AS total,
        count(CASE WHEN s.date >= w.ws AND s.date <= w.we THEN 1 END) AS inw
      FROM w
      LEFT JOIN contact_attendances a ON a.participant_id = w.id
      LEFT JOIN contact_sessions s
        ON s.id = a.session_id AND s.deleted_at IS NULL AND s.date <= {on}
      GROUP BY w.id, w.site_code, w.ws, w.we, w.withdrawn
    ) AS counted
    """


# -- measuring ------------------------------------------------------------------------


def measure(url: str, folder: str, rounds: int, seed: int) -> None:
    import sqlalchemy as sa

    from trialdm.contacts.queries import FidelityRule, fidelity_for, fidelity_subquery
    from trialdm.core.runtime import settle_start_up
    from trialdm.core.scoping import all_sites
    from trialdm.extensions import db

    app = make_app(url, folder)
    settle_start_up()  # as the web's and the worker's entry points do once the app is made
    today = date.today()
    rule = FidelityRule(MINIMUM, MONTHS, SLACK)
    with app.app_context(), all_sites():
        conn = db.session.connection()
        dialect = conn.dialect.name
        ids = (
            conn.exec_driver_sql(
                "SELECT id FROM participants WHERE arm = 'intervention' ORDER BY id"
            )
            .scalars()
            .all()
        )
        some = random.Random(seed).sample(ids, min(50, len(ids)))

        # Rows are streamed in batches (a server-side cursor on PostgreSQL), as a job
        # reading a whole trial would, so that memory stays flat in the trial's size.
        def product(**kw):
            fid = fidelity_subquery(today, rule, **kw)
            return db.session.execute(sa.select(fid).execution_options(yield_per=STREAM))

        def floor(where: str, stream: bool = True, **params):
            stmt = sa.text(floor_sql(dialect, where))
            if stream:
                stmt = stmt.execution_options(yield_per=STREAM)
            return db.session.execute(stmt, {"on": today, **params})

        reads = {
            "trial": (lambda: product(), lambda: floor("")),
            "site": (
                lambda: product(site_code="UKE"),
                lambda: floor("AND p.site_code = :site", site="UKE"),
            ),
            # as the participant page and the API read one person
            "one": (
                lambda: [fidelity_for(db.session, [pid], today) for pid in some],
                lambda: [floor("AND p.id = :pid", False, pid=pid).all() for pid in some],
            ),
        }
        results = {}
        for name, (ours, theirs) in reads.items():
            times: dict[str, list[float]] = {"product": [], "floor": []}
            counts: dict[str, Counter] = {}
            for _ in range(rounds):
                for label, run in (("floor", theirs), ("product", ours)):
                    started = time.perf_counter()
                    found = run()
                    statuses = Counter()
                    if not isinstance(found, list):
                        for row in found:  # streamed, not kept
                            statuses[row[-1]] += 1
                    times[label].append(time.perf_counter() - started)
                    counts[label] = statuses
                    db.session.rollback()
            assert counts["floor"] == counts["product"], (name, counts)
            results[name] = {
                "floor": statistics.median(times["floor"]),
                "product": statistics.median(times["product"]),
                "statuses": dict(sorted(counts["product"].items())),
            }
    results["peak_mb"] = peak_mb()
    print(json.dumps(results))


# -- driving --------------------------------------------------------------------------


def child(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=False
    )
    if done.returncode:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"{args[0]} failed")
    return done.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="participants, comma-separated")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", help="a PostgreSQL database to (re)create")
    parser.add_argument("--child", choices=("build", "measure"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--participants", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "build":
        return build(args.url, args.folder, args.participants, args.seed)
    if args.child == "measure":
        return measure(args.url, args.folder, args.rounds, args.seed)

    print(f"{'db':10} {'size':>9} {'read':6} {'floor ms':>10} {'ours ms':>10} {'ratio':>6} "
          f"{'peak MB':>8}  statuses")  # fmt: skip
    for size in (int(s) for s in args.sizes.split(",")):
        # SQLite in memory-backed files where there are: the floor and ours read the same
        # file, and the build's many fsyncs would otherwise dominate a shared machine
        shm = "/dev/shm" if Path("/dev/shm").is_dir() else None
        with tempfile.TemporaryDirectory(dir=shm) as folder:
            url = args.database_url or f"sqlite:///{folder}/bench.db"
            if args.database_url:
                fresh_postgres(url)
            started = time.perf_counter()
            common = ["--url", url, "--folder", folder, "--seed", str(args.seed)]
            built = json.loads(child("--child", "build", "--participants", str(size), *common))
            built_in = time.perf_counter() - started
            found = json.loads(child("--child", "measure", "--rounds", str(args.rounds), *common))
        backend = "postgresql" if args.database_url else "sqlite"
        for read in ("trial", "site", "one"):
            r = found[read]
            shown = ", ".join(f"{k} {v}" for k, v in r["statuses"].items())
            print(
                f"{backend:10} {size:>9} {read:6} {r['floor'] * 1000:>10.1f} "
                f"{r['product'] * 1000:>10.1f} {r['product'] / r['floor']:>6.2f} "
                f"{found['peak_mb']:>8.0f}  {shown if read != 'one' else '50 reads'}"
            )
        print(
            f"{'':10} built {built} in {built_in:.0f} s; aim: ratio at most 2, flat",
            flush=True,
        )


if __name__ == "__main__":
    os.environ.setdefault("TRIALDM_LOG_LEVEL", "WARNING")
    main()
