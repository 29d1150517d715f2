#!/usr/bin/env python3
"""Fidelity of every intervention participant, as a ratio to a floor.

Builds a fresh database (SQLite under a temporary folder by default, or PostgreSQL with
``--database-url``), migrates it and fills it with ``--participants`` enrolled
intervention participants and about ``--contacts`` contacts (individual sessions, one
attendance each), spread over two years. It then times, alternating in rounds:

* the floor: one aggregate over the contacts (count and first date per participant,
  the least any fidelity computation must read), and
* ``fidelity_subquery``: every participant's window, counts and status, all rows fetched,

and prints the median seconds of both and their ratio, and the statuses found.

    .venv/bin/python bench/fidelity.py [--participants 10000] [--contacts 50000] [--rounds 5]

Aim: fidelity within 5x the floor (it reads the contacts twice and sorts). Dates are
stored as DATE (ISO text on SQLite); an integer day-number column would only pay off
if this ratio were poor.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build(app, participants: int, contacts: int, seed: int) -> None:
    from flask_migrate import upgrade

    from trialdm.contacts.models import ContactAttendance, ContactSession, ContactSessionPsw
    from trialdm.core.scoping import all_sites
    from trialdm.extensions import db
    from trialdm.participants.models import Participant
    from trialdm.sites.operations import load_site_files, sync_sites

    rng = random.Random(seed)
    today = date.today()
    with app.app_context(), all_sites():
        upgrade()
        sync_sites(db.session, load_site_files(Path(app.config["SITES_DIR"])))
        db.session.commit()
        sites = ["BU", "ULM", "UKE", "DS", "PU", "BGU"]
        conn = db.session.connection()
        psw_rows = [
            {
                "id": 1 + i,
                "site_code": site,
                "category": "psw",
                "study_id": f"{site}-PSW-01",
                "training_completed": today - timedelta(days=1000),
                "active": True,
                "version_id": 1,
            }
            for i, site in enumerate(sites)
        ]
        conn.execute(sa.insert(Participant.__table__), psw_rows)
        people = []
        for n in range(participants):
            site = sites[n % len(sites)]
            enrolled = today - timedelta(days=rng.randint(1, 730))
            people.append(
                {
                    "id": 100 + n,
                    "site_code": site,
                    "category": "service_user",
                    "study_id": f"{site}-{n:06d}",
                    "enrolment_date": enrolled,
                    "consent_date": enrolled,
                    "arm": "intervention",
                    "status": "enrolled",
                    "version_id": 1,
                }
            )
        conn.execute(sa.insert(Participant.__table__), people)
        sessions, attendances, links = [], [], []
        for n in range(contacts):
            person = people[rng.randrange(len(people))]
            span = (today - person["enrolment_date"]).days
            on = person["enrolment_date"] + timedelta(days=rng.randint(0, span))
            sessions.append(
                {
                    "id": 1 + n,
                    "site_code": person["site_code"],
                    "date": on,
                    "format": "individual",
                    "mode": "in_person",
                    "version_id": 1,
                }
            )
            attendances.append(
                {
                    "session_id": 1 + n,
                    "site_code": person["site_code"],
                    "participant_id": person["id"],
                }
            )
            links.append(
                {
                    "session_id": 1 + n,
                    "site_code": person["site_code"],
                    "psw_id": 1 + sites.index(person["site_code"]),
                }
            )
        for table, rows in (
            (ContactSession.__table__, sessions),
            (ContactAttendance.__table__, attendances),
            (ContactSessionPsw.__table__, links),
        ):
            for start in range(0, len(rows), 5000):
                conn.execute(sa.insert(table), rows[start : start + 5000])
        db.session.commit()
        if conn.dialect.name == "postgresql":
            db.session.execute(sa.text("ANALYZE"))
            db.session.commit()


def timed(app, rounds: int) -> tuple[list[float], list[float], Counter]:
    from trialdm.contacts.queries import contacts_subquery, fidelity_subquery
    from trialdm.core.scoping import all_sites
    from trialdm.extensions import db

    floors, fidelities = [], []
    statuses: Counter = Counter()
    with app.app_context(), all_sites():
        for _ in range(rounds):
            c = contacts_subquery(date.today())
            floor = sa.select(
                c.c.participant_id, sa.func.count(), sa.func.min(c.c.contact_date)
            ).group_by(c.c.participant_id)
            started = time.perf_counter()
            db.session.execute(floor).all()
            floors.append(time.perf_counter() - started)
            fid = fidelity_subquery(date.today())
            started = time.perf_counter()
            rows = db.session.execute(sa.select(fid)).all()
            fidelities.append(time.perf_counter() - started)
            statuses = Counter(row.status for row in rows)
            db.session.rollback()
    return floors, fidelities, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--contacts", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default SQLite)")
    args = parser.parse_args()

    from trialdm import create_app

    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{folder}/bench.db"
        app = create_app(
            {"DATABASE_URL": url, "SECRET_KEY": "bench", "BROKER_URL": "memory://"},
            environ={"TRIALDM_INSTANCE_PATH": folder},
        )
        started = time.perf_counter()
        build(app, args.participants, args.contacts, args.seed)
        print(
            f"built {args.participants} participants, {args.contacts} contacts "
            f"on {sa.make_url(url).get_backend_name()} in {time.perf_counter() - started:.1f} s"
        )
        floors, fidelities, statuses = timed(app, args.rounds)
    floor, fidelity = statistics.median(floors), statistics.median(fidelities)
    print(f"floor (contact aggregate): {floor * 1000:8.1f} ms")
    print(f"fidelity (every status):   {fidelity * 1000:8.1f} ms")
    print(f"ratio fidelity / floor:    {fidelity / floor:8.2f}  (aim: at most 5)")
    print("statuses: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))


if __name__ == "__main__":
    main()
