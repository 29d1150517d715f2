#!/usr/bin/env python3
"""The reminder scan over 100,000 service users at 50 sites, as a ratio to a floor.

Builds a fresh database (SQLite in a temporary folder, or PostgreSQL with
``--database-url``) by the migrations, adds 44 synthetic sites to the six real ones,
a site lead and two research workers per site, ``--participants`` enrolled service
users spread over the sites (half in the intervention arm, enrolled over the past
year, each with 0-4 PSW contacts), then measures, alternating in rounds:

* the floor: one plain SQL statement reading the rows the rules read (every
  intervention participant with each of their contacts), fetched to the client;
* the rules: :func:`trialdm.reminders.operations.plan_reminders` for every site
  (what ``trialdm reminders scan --dry-run`` does), counting the SQL statements;

and once, a real scan of every site (reminders inserted, delivered to inboxes and
the outbox) followed by a second scan that must create nothing. Prints seconds,
the ratio of each to the floor, statements issued, and rows created.

    .venv/bin/python bench/reminder_scan.py [--participants 100000] [--sites 50]
        [--rounds 3] [--database-url postgresql+psycopg://postgres@127.0.0.1/trialdm_bench_rem]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from trialdm import create_app  # noqa: E402
from trialdm.core.audit import audit_context  # noqa: E402
from trialdm.core.models import utcnow  # noqa: E402
from trialdm.core.scoping import all_sites  # noqa: E402
from trialdm.extensions import db  # noqa: E402

ZONES = ("Africa/Kampala", "Europe/Berlin", "Asia/Kolkata", "Asia/Jerusalem", "America/Lima")
AS_OF = date.today()


def fresh_postgres(url: str) -> str:
    parsed = sa.make_url(url)
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    return url


def build(database_url: str, instance: Path):
    from flask_migrate import upgrade

    from trialdm.sites.operations import load_site_files, sync_sites

    app = create_app(
        {"DATABASE_URL": database_url, "SECRET_KEY": "bench", "BROKER_URL": "memory://"},
        environ={"TRIALDM_INSTANCE_PATH": str(instance)},
    )
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
    counter = {"statements": 0}

    def count(*args, **kwargs):
        counter["statements"] += 1

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield counter
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


FLOOR_SQL = """
SELECT p.id, p.study_id, p.site_code, p.enrolment_date, p.intervention_start,
       p.status, p.withdrawal_date, s.date
FROM participants p
LEFT JOIN contact_attendances a ON a.participant_id = p.id
LEFT JOIN contact_sessions s ON s.id = a.session_id AND s.deleted_at IS NULL
WHERE p.category = 'service_user' AND p.arm = 'intervention'
  AND p.enrolment_date IS NOT NULL AND p.deleted_at IS NULL
"""


def floor() -> tuple[float, int]:
    started = time.perf_counter()
    rows = db.session.execute(sa.text(FLOOR_SQL)).all()
    return time.perf_counter() - started, len(rows)


def rules(sites: list[str]) -> tuple[float, int, int]:
    from trialdm.reminders.operations import plan_reminders

    with counting(db.engine) as counter:
        started = time.perf_counter()
        found = sum(len(plan_reminders(db.session, code, AS_OF)) for code in sites)
        seconds = time.perf_counter() - started
    db.session.rollback()
    return seconds, counter["statements"], found


def real_scan(sites: list[str]) -> tuple[float, int, int, int]:
    from trialdm.reminders.operations import scan_site

    created = delivered = 0
    with counting(db.engine) as counter:
        started = time.perf_counter()
        for code in sites:
            result = scan_site(db.session, code, AS_OF)
            created += result.created
            delivered += result.delivered
        db.session.commit()
        seconds = time.perf_counter() - started
    return seconds, counter["statements"], created, delivered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="trialdm-bench-") as tmp:
        url = (
            fresh_postgres(args.database_url)
            if args.database_url
            else f"sqlite:///{Path(tmp) / 'bench.db'}"
        )
        app = build(url, Path(tmp) / "instance")
        with app.app_context(), all_sites(), audit_context(source="system"):
            sites = seed(args.participants, args.sites, rng)
            floors, scans = [], []
            for _ in range(args.rounds):
                floors.append(floor())
                scans.append(rules(sites))
            floor_s = min(s for s, _ in floors)
            scan_s, statements, found = min(scans)
            print(f"database: {db.engine.dialect.name}; as of {AS_OF}; best of {args.rounds}")
            print(f"floor (one plain SELECT, {floors[0][1]} rows): {floor_s:.3f} s")
            print(
                f"rules, all {len(sites)} sites (dry run): {scan_s:.3f} s = "
                f"{scan_s / floor_s:.1f}x the floor; {statements} statements "
                f"({statements / len(sites):.1f} per site); {found} reminders found"
            )
            seconds, statements, created, delivered = real_scan(sites)
            print(
                f"real scan, all sites (insert, deliver to inbox and outbox): {seconds:.3f} s = "
                f"{seconds / floor_s:.1f}x the floor; {statements} statements; "
                f"{created} reminders created, {delivered} delivered"
            )
            seconds, statements, created, _ = real_scan(sites)
            print(
                f"second scan (idempotent): {seconds:.3f} s; {statements} statements; "
                f"{created} created"
            )
            db.session.remove()
            db.engine.dispose()


if __name__ == "__main__":
    main()
