"""A 100,000-row participant import through the API, as a job.

    .venv/bin/python bench/participant_import.py [--rows 100000] [--database-url URL]

Builds a fresh database (SQLite in a temporary folder by default) with the
migrations and the sites, and a site lead's API token. Then:

1. ``POST /api/v1/participants/import`` with the file: the web side only checks
   the limits, keeps the upload and answers 202. Its time is what a web worker
   is held for.
2. The job, run as the worker runs it (the task's function in an app context).
3. The floor, written by hand: the same rows as one executemany INSERT into a
   scratch table of the same columns (no validation, no study IDs, no audit).

Prints the request time, the job's time and its ratio to the floor, and the
participants and audit rows written; exit status 1 if the job did not import
every row.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HEADER = "category,gender,year_of_birth,enrolment_date,consent_date,consent_version,arm"


def rows_csv(n: int) -> str:
    lines = [HEADER]
    for i in range(n):
        gender = ("female", "male")[i % 2]
        arm = ("intervention", "control")[i % 2]
        lines.append(f"service_user,{gender},{1970 + i % 30},2025-02-01,2025-02-01,1.0,{arm}")
    return "\n".join(lines) + "\n"


def floor_seconds(engine, text: str) -> float:
    """One executemany INSERT of the parsed rows into a scratch table."""
    import csv

    from sqlalchemy import text as sql

    started = time.perf_counter()
    rows = list(csv.DictReader(io.StringIO(text)))
    with engine.begin() as conn:
        conn.execute(sql("DROP TABLE IF EXISTS bench_floor_participants"))
        conn.execute(
            sql(
                "CREATE TABLE bench_floor_participants (id INTEGER PRIMARY KEY, site_code "
                "VARCHAR(8), category VARCHAR(16), gender VARCHAR(16), year_of_birth INTEGER, "
                "enrolment_date DATE, consent_date DATE, consent_version VARCHAR(32), "
                "arm VARCHAR(16))"
            )
        )
        conn.execute(
            sql(
                "INSERT INTO bench_floor_participants (site_code, category, gender, "
                "year_of_birth, enrolment_date, consent_date, consent_version, arm) VALUES "
                "('BU', :category, :gender, :year_of_birth, :enrolment_date, :consent_date, "
                ":consent_version, :arm)"
            ),
            rows,
        )
    seconds = time.perf_counter() - started
    with engine.begin() as conn:
        conn.execute(sql("DROP TABLE bench_floor_participants"))
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from trialdm import create_app
    from trialdm.auth.operations import create_token, create_user
    from trialdm.core.audit import AuditEvent
    from trialdm.core.scoping import all_sites
    from trialdm.extensions import db
    from trialdm.participants.import_jobs import run_import_job
    from trialdm.participants.models import Participant, ParticipantImportJob
    from trialdm.sites.operations import load_site_files, sync_sites

    folder = Path(tempfile.mkdtemp(prefix="trialdm-bench-import-"))
    url = args.database_url or f"sqlite:///{folder / 'bench.db'}"
    app = create_app(
        {
            "DATABASE_URL": url,
            "TASKS_EAGER": False,
            "BROKER_URL": f"sqla+sqlite:///{folder / 'broker.db'}",
        },
        environ={"TRIALDM_INSTANCE_PATH": str(folder / "instance")},
    )
    with app.app_context(), all_sites():
        upgrade()
        sync_sites(db.session, load_site_files(Path(app.config["SITES_DIR"])))
        user = create_user(db.session, "lead@bench.example", "site_lead", ["BU"])
        token = create_token(db.session, user, "bench")[1]
        db.session.commit()

    text = rows_csv(args.rows)
    from trialdm.extensions import celery

    celery.send_task = lambda *a, **k: None  # the job is run below, as the worker runs it
    client = app.test_client()
    started = time.perf_counter()
    response = client.post(
        "/api/v1/participants/import",
        data={"site": "BU", "file": (io.BytesIO(text.encode()), "bench.csv")},
        headers={"Authorization": f"Bearer {token}"},
        content_type="multipart/form-data",
    )
    request_seconds = time.perf_counter() - started
    if response.status_code != 202:
        print(f"expected 202, got {response.status_code}: {response.get_data(as_text=True)}")
        return 1
    job_id = response.json["id"]

    with app.app_context(), all_sites():
        started = time.perf_counter()
        state = run_import_job(db.session, job_id)
        job_seconds = time.perf_counter() - started
        job = db.session.get(ParticipantImportJob, job_id)
        participants = db.session.scalar(select(func.count()).select_from(Participant))
        audited = db.session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.entity == "participants")
        )
        floor = floor_seconds(db.engine, text)
        db.engine.dispose()

    print(f"rows: {args.rows:,}  database: {url.split(':')[0]}")
    print(f"request (web worker held): {request_seconds:.2f} s, answer 202")
    print(f"job: {state} in {job_seconds:.1f} s ({job_seconds / args.rows * 1000:.2f} ms/row)")
    print(f"floor (one executemany INSERT): {floor:.2f} s; job / floor = {job_seconds / floor:.1f}")
    print(f"participants: {participants:,}  audit rows: {audited:,}  job: {job.state}")
    return 0 if participants == args.rows and job.state == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
