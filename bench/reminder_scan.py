#!/usr/bin/env python3
"""The reminder scan over 100,000 service users at 50 sites, as a ratio to a floor.

Builds a fresh database (SQLite in a temporary folder, or PostgreSQL with
``--database-url``) by the migrations, adds 44 synthetic sites to the six real ones,
a site lead and two research workers per site, ``--participants`` enrolled service
users spread over the sites (half in the intervention arm, enrolled over the past
year, each with 0-4 PSW contacts), then measures, alternating in rounds:

* the floor: hand-written SQL (no product query inside) reading once the rows the
  rules read -- every intervention participant with each of their contacts, and
  every service user with their complete responses (the schedule's input) --
  fetched to the client;
* the dry scan: :func:`trialdm.reminders.operations.scan_sites` of every site, dry
  (what ``trialdm reminders scan --dry-run`` does), counting the SQL statements;

then a real scan of every site (reminders inserted, delivered to inboxes and the
outbox, committed), a second real scan of the same day that finds the same
reminders open and must write nothing, and a real scan of each of the ``--next-days``
following days, which writes what became due that day (the daily case of a running
trial: enrolments, contacts and so due dates are spread over the past year, so
every day some windows open, some silences pass 30 days; on the digest weekday, a
Monday by default, the at-risk reminders of the new ISO week and the digests).
Prints seconds, the ratio of each to the floor, statements issued, rows created,
for the first day a second ratio to a write floor (the rows it wrote copied by plain
``INSERT ... SELECT`` into scratch tables without keys or indexes),
and the peak memory (RSS) of each process: the floor and the scans run each in a
fresh process (spawned, so no process inherits another's peak).

    .venv/bin/python bench/reminder_scan.py [--participants 100000] [--sites 50]
        [--rounds 3] [--next-days 7]
        [--database-url postgresql+psycopg://postgres@127.0.0.1/trialdm_bench_rem]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa
from measuring import cpu_seconds, in_fresh_process, peak_mb, server_cpu_seconds
from scratch_databases import fresh_postgres

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from trialdm import create_app  # noqa: E402
from trialdm.core.audit import audit_context  # noqa: E402
from trialdm.core.models import utcnow  # noqa: E402
from trialdm.core.scoping import all_sites  # noqa: E402
from trialdm.extensions import db  # noqa: E402

ZONES = ("Africa/Kampala", "Europe/Berlin", "Asia/Kolkata", "Asia/Jerusalem", "America/Lima")
AS_OF = date.today()
WRITTEN = ("reminders", "reminder_outbox", "reminder_inbox")


def build(database_url: str, instance: Path):
    from flask_migrate import upgrade

    from trialdm.sites.operations import load_site_files, sync_sites

    app = _app(database_url, str(instance))
    with app.app_context():
        upgrade()
        with all_sites():
            sync_sites(db.session, load_site_files(Path(app.config["SITES_DIR"])))
            db.session.commit()
    return app


def seed(n_participants: int, n_sites: int, rng: random.Random) -> list[str]:
    from trialdm.auth.operations import hash_password
    from trialdm.contacts.models import ContactAttendance, ContactSession
    from trialdm.participants.models import Participant
    from trialdm.sites.models import Site

    session = db.session
    real = list(session.scalars(sa.select(Site.code).order_by(Site.code)))
    extra = [f"X{i:02d}" for i in range(1, n_sites - len(real) + 1)]
    now = utcnow()
    session.execute(
        sa.insert(Site.__table__),
        [
            {
                "code": code,
                "name": f"Site {code}",
                "country": "Benchland",
                "city": "Bench",
                "languages": ["en"],
                "timezone": ZONES[i % len(ZONES)],
                "created_at": now,
                "updated_at": now,
            }
            for i, code in enumerate(extra)
        ],
    )
    sites = real + extra
    password = hash_password("bench-password-1")
    users, memberships = [], []
    for code in sites:
        for role in ("site_lead", "research_worker", "research_worker"):
            users.append(
                {
                    "email": f"{role}.{len(users)}.{code.lower()}@bench.test",
                    "password_hash": password,
                    "active": True,
                    "locale": "en",
                    "mail_preference": rng.choice(["immediate", "daily"]),
                    "created_at": now,
                    "updated_at": now,
                }
            )
            memberships.append((role, code))
    ids = session.execute(
        sa.insert(sa.table("users", *(sa.column(k) for k in users[0]))).returning(sa.column("id")),
        users,
    ).scalars()
    session.execute(
        sa.insert(
            sa.table(
                "memberships",
                sa.column("user_id"),
                sa.column("role"),
                sa.column("site_code"),
                sa.column("created_at"),
            )
        ),
        [
            {"user_id": uid, "role": role, "site_code": code, "created_at": now}
            for uid, (role, code) in zip(ids, memberships, strict=True)
        ],
    )
    rows = []
    for i in range(n_participants):
        code = sites[i % len(sites)]
        enrolled = AS_OF - timedelta(days=rng.randint(0, 365))
        rows.append(
            {
                "site_code": code,
                "category": "service_user",
                "study_id": f"{code}-{i:06d}",
                "year_of_birth": 1980,
                "enrolment_date": enrolled,
                "consent_date": enrolled,
                "consent_version": "1.0",
                "arm": "intervention" if (i // len(sites)) % 2 == 0 else "control",
                "status": "enrolled",
                "version_id": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
    session.execute(sa.insert(Participant.__table__), rows)
    people = session.execute(
        sa.select(Participant.id, Participant.site_code, Participant.enrolment_date).where(
            Participant.arm == "intervention"
        )
    ).all()
    contact_rows = []
    for pid, code, enrolled in people:
        for _ in range(rng.randint(0, 4)):
            span = max((AS_OF - enrolled).days, 0)
            contact_rows.append((pid, code, enrolled + timedelta(days=rng.randint(0, span))))
    session_ids = session.execute(
        sa.insert(ContactSession.__table__).returning(ContactSession.__table__.c.id),
        [
            {
                "site_code": code,
                "date": day,
                "format": "individual",
                "mode": "in_person",
                "version_id": 1,
                "created_at": now,
                "updated_at": now,
            }
            for _, code, day in contact_rows
        ],
        execution_options={"render_nulls": False},
    ).scalars()
    session.execute(
        sa.insert(ContactAttendance.__table__),
        [
            {"session_id": sid, "participant_id": pid, "site_code": code}
            for sid, (pid, code, _) in zip(session_ids, contact_rows, strict=True)
        ],
    )
    session.commit()
    print(
        f"seeded {len(sites)} sites, {len(users)} users, {n_participants} service users "
        f"({len(people)} in the intervention arm), {len(contact_rows)} contacts"
    )
    return sites


@contextmanager
def counting(engine):
    """Statements issued, and the seconds spent in the contacts domain's fidelity
    statement (shown apart: that query belongs to the contacts domain)."""
    counter = {"statements": 0, "fidelity": 0.0}

    def before(conn, cursor, statement, *args):
        counter["statements"] += 1
        conn.info["bench_started"] = time.perf_counter()

    def after(conn, cursor, statement, *args):
        if "fidelity" in statement:
            counter["fidelity"] += time.perf_counter() - conn.info["bench_started"]

    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "after_cursor_execute", after)
    try:
        yield counter
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
        sa.event.remove(engine, "after_cursor_execute", after)


FLOOR_SQL = (
    """
SELECT p.id, p.study_id, p.site_code, p.enrolment_date, p.intervention_start,
       p.status, p.withdrawal_date, s.date
FROM participants p
LEFT JOIN contact_attendances a ON a.participant_id = p.id
LEFT JOIN contact_sessions s ON s.id = a.session_id AND s.deleted_at IS NULL
WHERE p.category = 'service_user' AND p.arm = 'intervention'
  AND p.enrolment_date IS NOT NULL AND p.deleted_at IS NULL
""",
    """
SELECT p.id, p.study_id, p.site_code, p.enrolment_date, p.status, p.withdrawal_date,
       r.event, r.instrument_name, r.collected_on
FROM participants p
LEFT JOIN responses r ON r.participant_id = p.id AND r.status = 'complete'
  AND r.deleted_at IS NULL
WHERE p.category = 'service_user' AND p.enrolment_date IS NOT NULL
  AND p.deleted_at IS NULL
""",
)


def floor(conn) -> tuple[float, int, float]:
    dbapi = conn.connection.dbapi_connection
    started, cpu = time.perf_counter(), cpu_seconds(dbapi)
    rows = sum(len(conn.execute(sa.text(sql)).all()) for sql in FLOOR_SQL)
    return time.perf_counter() - started, rows, cpu_seconds(dbapi) - cpu


def rules(sites: list[str]) -> tuple[float, int, int, float]:
    from trialdm.reminders.operations import scan_sites

    with counting(db.engine) as counter:
        started = time.perf_counter()
        results = scan_sites(db.session, [(code, AS_OF) for code in sites], dry_run=True)
        found = sum(len(result.planned) for result in results)
        seconds = time.perf_counter() - started
    db.session.rollback()
    return seconds, counter["statements"], found, counter["fidelity"]


def written_rows() -> tuple[int, ...]:
    """Rows in the tables a real scan writes (reminders, e-mails, inbox entries)."""
    return tuple(
        db.session.scalar(sa.text(f"SELECT count(*) FROM {table}")) or 0 for table in WRITTEN
    )


def real_scan(sites: list[str], day: date = AS_OF) -> dict:
    from trialdm.reminders.operations import scan_sites

    before = written_rows()
    db.session.commit()
    with counting(db.engine) as counter:
        # the scan's connection (SQLite: its BEGIN, counted as before)
        dbapi = db.session.connection().connection.dbapi_connection
        started, cpu, server = time.perf_counter(), cpu_seconds(dbapi), server_cpu_seconds(dbapi)
        # as ``trialdm reminders scan`` does: every site in one transaction
        results = scan_sites(db.session, [(code, day) for code in sites])
        db.session.commit()
        seconds, cpu = time.perf_counter() - started, cpu_seconds(dbapi) - cpu
        server = server_cpu_seconds(dbapi) - server
    after = written_rows()
    db.session.commit()
    return {
        "day": day,
        "seconds": seconds,
        "statements": counter["statements"],
        "created": sum(result.created for result in results),
        "delivered": sum(result.delivered for result in results),
        "fidelity": counter["fidelity"],
        "cpu": cpu,
        "server": server,
        # reminders, e-mails, inbox entries written
        "written": tuple(b - a for a, b in zip(before, after, strict=True)),
    }


def _app(url: str, instance: str):
    return create_app(
        {"DATABASE_URL": url, "SECRET_KEY": "bench", "BROKER_URL": "memory://"},
        environ={"TRIALDM_INSTANCE_PATH": instance},
    )


def floor_process(url: str, instance: str, rounds: int) -> dict:
    """The floor, in a process of its own with a bare engine, not the app: its peak
    memory is what reading the rows costs."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        runs = [floor(conn) for _ in range(rounds)]
    engine.dispose()
    return {
        "seconds": min(s for s, _, _ in runs),
        "rows": runs[0][1],
        "cpu": min(c for _, _, c in runs),
        "peak_mb": peak_mb(),
    }


def scan_process(url: str, instance: str, rounds: int, sites: list[str], days: int) -> dict:
    """The dry scans, the real scan of the first day, the same day again, then each of
    the ``days`` next days (what becomes due on each), in one process."""
    app = _app(url, instance)
    with app.app_context(), all_sites(), audit_context(source="system"):
        dry = min(rules(sites) for _ in range(rounds))
        dry_peak = peak_mb()
        first = real_scan(sites)
        second = real_scan(sites)
        following = [real_scan(sites, AS_OF + timedelta(days=k)) for k in range(1, days + 1)]
        db.session.remove()
        db.engine.dispose()
    return {
        "dry": dry,
        "dry_peak": dry_peak,
        "first": first,
        "second": second,
        "next": following,
        "peak": peak_mb(),
    }


def write_floor_process(url: str, instance: str, rounds: int, first: dict) -> dict:
    """A second floor for the first day: the rows it wrote (reminders, e-mails, inbox
    entries: the first rows of each table), copied by plain ``INSERT ... SELECT`` into
    scratch tables with the same columns and no key, index nor foreign key, and
    committed. What writing that many
    rows costs the database alone, without the integrity the real tables keep."""
    engine = sa.create_engine(url)
    postgres = engine.dialect.name == "postgresql"
    runs, rows = [], 0
    for _ in range(rounds):
        with engine.connect() as conn:
            for table in WRITTEN:
                conn.execute(sa.text(f"DROP TABLE IF EXISTS bench_write_{table}"))
                conn.execute(
                    sa.text(
                        f"CREATE TABLE bench_write_{table} (LIKE {table})"
                        if postgres
                        else f"CREATE TABLE bench_write_{table} AS SELECT * FROM {table} WHERE 0"
                    )
                )
            conn.commit()
            started = time.perf_counter()
            rows = sum(
                conn.execute(
                    sa.text(
                        f"INSERT INTO bench_write_{table} SELECT * FROM {table} "
                        f"ORDER BY id LIMIT {count}"
                    )
                ).rowcount
                for table, count in zip(WRITTEN, first["written"], strict=True)
            )
            conn.commit()
            runs.append(time.perf_counter() - started)
            for table in WRITTEN:
                conn.execute(sa.text(f"DROP TABLE bench_write_{table}"))
            conn.commit()
    engine.dispose()
    return {"seconds": min(runs), "rows": rows}


def _apart(fidelity: float, seconds: float, floor_s: float) -> str:
    return (
        f"  of which the fidelity statement (contacts domain) {fidelity:.3f} s; "
        f"the rest {seconds - fidelity:.3f} s = {(seconds - fidelity) / floor_s:.2f}x the floor"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default="")
    parser.add_argument(
        "--next-days", type=int, default=7, help="days scanned after the first (a week by default)"
    )
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="trialdm-bench-") as tmp:
        url = (
            fresh_postgres(args.database_url)
            if args.database_url
            else f"sqlite:///{Path(tmp) / 'bench.db'}"
        )
        instance = str(Path(tmp) / "instance")
        app = build(url, Path(instance))
        with app.app_context(), all_sites(), audit_context(source="system"):
            sites = seed(args.participants, args.sites, rng)
            dialect = db.engine.dialect.name
            planner = ""
            if dialect == "postgresql":
                db.session.execute(sa.text("ANALYZE"))
                db.session.commit()
                # it decides whether the foreign keys' checks on the small users table
                # are index probes or sequential scans (PGOPTIONS may set it)
                cost = db.session.scalar(sa.text("SHOW random_page_cost"))
                planner = f"; random_page_cost {cost}"
            db.session.remove()
            db.engine.dispose()
        # alternate floor and scans so that load on the machine hits both alike
        fl = in_fresh_process(floor_process, url, instance, args.rounds)
        sc = in_fresh_process(scan_process, url, instance, args.rounds, sites, args.next_days)
        fl2 = in_fresh_process(floor_process, url, instance, args.rounds)
        wf = in_fresh_process(write_floor_process, url, instance, args.rounds, sc["first"])
        floor_s = min(fl["seconds"], fl2["seconds"])
        print(f"database: {dialect}{planner}; as of {AS_OF}; best of {args.rounds}")
        print(
            f"floor (hand-written SELECTs, {fl['rows']} rows): {floor_s:.3f} s; "
            f"peak memory {max(fl['peak_mb'], fl2['peak_mb']):.0f} MB"
        )
        scan_s, statements, found, fidelity = sc["dry"]
        print(
            f"dry scan, all {len(sites)} sites: {scan_s:.3f} s = {scan_s / floor_s:.2f}x the "
            f"floor; {statements} statements ({statements / len(sites):.1f} per site); "
            f"{found} reminders found; peak memory {sc['dry_peak']:.0f} MB"
        )
        print(_apart(fidelity, scan_s, floor_s))
        floor_cpu = min(fl["cpu"], fl2["cpu"])
        first = sc["first"]
        seconds = first["seconds"]
        print(
            f"real scan, first day (insert, deliver to inbox and outbox, commit): "
            f"{_scan_line(first, floor_s)}"
        )
        print(_apart(first["fidelity"], seconds, floor_s))
        split = f" (server process {first['server']:.2f} s)" if dialect == "postgresql" else ""
        print(
            f"  CPU: {first['cpu']:.2f} s{split} = {first['cpu'] / floor_cpu:.2f}x "
            f"the floor's {floor_cpu:.3f} s"
        )
        both = floor_s + wf["seconds"]
        print(
            f"  write floor (the {wf['rows']} rows it wrote copied by plain INSERT ... SELECT "
            f"into scratch tables without keys or indexes, committed): {wf['seconds']:.3f} s; "
            f"the first day = {seconds / wf['seconds']:.2f}x the write floor, "
            f"{seconds / both:.2f}x read and write floors together ({both:.3f} s)"
        )
        second = sc["second"]
        print(
            f"real scan, same reminders open (writes nothing new): "
            f"{_scan_line(second, floor_s)}; peak memory of the scan process {sc['peak']:.0f} MB"
        )
        print(_apart(second["fidelity"], second["seconds"], floor_s))
        print(f"  CPU: {second['cpu']:.2f} s = {second['cpu'] / floor_cpu:.2f}x the floor's")
        for day in sc["next"]:
            print(
                f"real scan, next day {day['day']:%a %Y-%m-%d} (what became due since): "
                f"{_scan_line(day, floor_s)}; CPU {day['cpu'] / floor_cpu:.2f}x the floor's"
            )
        if sc["next"]:
            ratios = sorted(day["seconds"] / floor_s for day in sc["next"])
            new = sorted(day["created"] for day in sc["next"])
            print(
                f"next days: median {statistics.median(ratios):.2f}x the floor "
                f"(from {ratios[0]:.2f}x to {ratios[-1]:.2f}x), "
                f"median {statistics.median(new):.0f} new reminders a day "
                f"(from {new[0]} to {new[-1]})"
            )


def _scan_line(run: dict, floor_s: float) -> str:
    reminders, mails, entries = run["written"]
    return (
        f"{run['seconds']:.3f} s = {run['seconds'] / floor_s:.2f}x the floor; "
        f"{run['statements']} statements; {run['created']} reminders created, "
        f"{run['delivered']} delivered ({reminders + mails + entries} rows: {mails} e-mails, "
        f"{entries} inbox entries)"
    )


if __name__ == "__main__":
    main()
