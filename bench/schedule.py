"""Schedule query cost: the set-based status of every (participant, event) as of a date,
against a floor measured in the same run (reading the same participant rows once per
event without computing anything). Prints seconds and the ratio.

    .venv/bin/python bench/schedule.py [PARTICIPANTS]
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from trialdm import create_app
from trialdm.core.scoping import all_sites
from trialdm.extensions import db


def main(count: int) -> None:
    from flask_migrate import upgrade

    from trialdm.instruments.definitions import load_definition_folder
    from trialdm.instruments.models import InstrumentResponse, InstrumentVersion
    from trialdm.instruments.operations import sync_instruments
    from trialdm.participants.models import Participant
    from trialdm.schedule.queries import schedule_rows
    from trialdm.sites.operations import load_site_files, sync_sites

    folder = Path(tempfile.mkdtemp())
    app = create_app(
        {"DATABASE_URL": f"sqlite:///{folder / 'bench.db'}", "SECRET_KEY": "bench"},
        environ={"TRIALDM_INSTANCE_PATH": str(folder)},
    )
    rng = random.Random(1)
    with app.app_context(), all_sites():
        upgrade()
        sync_sites(db.session, load_site_files(Path(app.config["SITES_DIR"])))
        definitions = load_definition_folder(Path(app.config["INSTRUMENTS_DIR"]))
        sync_instruments(db.session, definitions, {})
        db.session.commit()
        today = date(2026, 6, 1)
        sites = ["ULM", "UKE", "BU", "DS", "PU", "BGU"]
        db.session.execute(
            insert(Participant),
            [
                {
                    "site_code": sites[i % 6],
                    "category": "service_user",
                    "study_id": f"B-{i:07d}",
                    "enrolment_date": today - timedelta(days=rng.randint(0, 500)),
                    "status": "withdrawn" if i % 50 == 0 else "enrolled",
                    "withdrawal_date": today - timedelta(days=10) if i % 50 == 0 else None,
                    "arm": "control",
                    "version_id": 1,
                }
                for i in range(count)
            ],
        )
        ids = list(db.session.scalars(select(Participant.id)))
        version_ids = {v.name: v.id for v in db.session.scalars(select(InstrumentVersion))}
        db.session.execute(
            insert(InstrumentResponse),
            [
                {
                    "site_code": sites[(pid - 1) % 6],
                    "participant_id": pid,
                    "event": event,
                    "instrument_name": name,
                    "instrument_version_id": version_ids[name],
                    "status": "complete",
                    "collected_on": today,
                    "version_id": 1,
                }
                for pid in ids
                for event, name in (
                    ("T0", "baseline_demographics"),
                    ("T0", "social_inclusion_scale"),
                    ("T1", "social_inclusion_scale"),
                )
                if event == "T0" or pid % 3
            ],
        )
        db.session.commit()

        def read_participants() -> int:
            return len(
                db.session.execute(
                    select(Participant.id, Participant.study_id, Participant.enrolment_date)
                ).all()
            )

        # One untimed pass of each first: the first read after the bulk build is several
        # times slower (2.0 against 0.26 s at 100k), which made the floor's four reads
        # slow and the ratio at 100k look smaller than it is.
        read_participants()
        schedule_rows(db.session, today)

        started, cpu = time.perf_counter(), time.process_time()
        floor_rows = sum(read_participants() for _ in range(4))
        floor, floor_cpu = time.perf_counter() - started, time.process_time() - cpu

        started, cpu = time.perf_counter(), time.process_time()
        rows = schedule_rows(db.session, today)
        elapsed, elapsed_cpu = time.perf_counter() - started, time.process_time() - cpu
        overdue_started = time.perf_counter()
        overdue = schedule_rows(db.session, today, site="BU", status="overdue")
        overdue_elapsed = time.perf_counter() - overdue_started

    # SQLite runs in this process: its CPU seconds are the steadier figure on a shared
    # machine, where the wall clock mostly measures the share of CPU a run got
    print(f"participants: {count}, schedule rows: {len(rows)} (floor rows {floor_rows})")
    print(f"statuses: {dict(sorted(Counter(r.status for r in rows).items()))}")
    print(f"floor (read participants x 4): {floor:.3f} s, CPU {floor_cpu:.3f} s")
    print(
        f"schedule_rows, all:            {elapsed:.3f} s  ratio {elapsed / floor:.1f}x, "
        f"CPU {elapsed_cpu:.3f} s  ratio {elapsed_cpu / floor_cpu:.1f}x"
    )
    print(
        f"schedule_rows, BU overdue:     {overdue_elapsed:.3f} s  ratio "
        f"{overdue_elapsed / floor:.1f}x ({len(overdue)} rows)"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
