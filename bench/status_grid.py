"""Record status grid cost: ``GET /api/v1/status`` (a page of 50 participants and the
counts per column over all of them, as a coordinator sees it) and the HTML page, at
10,000 and 100,000 participants, against a plain SQL floor measured in the same run:
one aggregate that reads every participant and joins its responses once (no schedule,
no states). Prints seconds and the ratio to the floor.

    .venv/bin/python bench/status_grid.py [PARTICIPANTS ...]   # default 10000 100000
    TRIALDM_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/trialdm_bench_grid \\
        .venv/bin/python bench/status_grid.py
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from scratch_databases import fresh_postgres
from sqlalchemy import func, insert, select

from trialdm import create_app
from trialdm.core.scoping import all_sites
from trialdm.extensions import db

SITES = ["ULM", "UKE", "BU", "DS", "PU", "BGU"]
TODAY = date(2026, 6, 1)
ROUNDS = 3


def database_url(folder: Path, count: int) -> str:
    base = os.environ.get("TRIALDM_BENCH_DATABASE_URL")
    if not base:
        return f"sqlite:///{folder / f'grid_{count}.db'}"
    import sqlalchemy as sa

    return fresh_postgres(base, f"{sa.make_url(base).database}_{count}")


def seed(count: int) -> str:
    """Participants enrolled over 500 days, T0 done by all, T1 by two thirds, some drafts;
    returns a coordinator's API token."""
    from flask import current_app

    from trialdm.auth.operations import create_token, create_user
    from trialdm.instruments.definitions import load_definition_folder
    from trialdm.instruments.models import InstrumentResponse, InstrumentVersion
    from trialdm.instruments.operations import sync_instruments
    from trialdm.participants.models import Participant
    from trialdm.sites.operations import load_site_files, sync_sites

    rng = random.Random(1)
    sync_sites(db.session, load_site_files(Path(current_app.config["SITES_DIR"])))
    sync_instruments(
        db.session, load_definition_folder(Path(current_app.config["INSTRUMENTS_DIR"])), {}
    )
    user = create_user(
        db.session, "coordinator@grid.example", "coordinator", [], "correct horse 17"
    )
    _, token = create_token(db.session, user, "bench")
    db.session.commit()
    for start in range(0, count, 20_000):
        db.session.execute(
            insert(Participant),
            [
                {
                    "site_code": SITES[i % 6],
                    "category": "service_user",
                    "study_id": f"B-{i:07d}",
                    "enrolment_date": TODAY - timedelta(days=rng.randint(0, 500)),
                    "status": "withdrawn" if i % 50 == 0 else "enrolled",
                    "withdrawal_date": TODAY - timedelta(days=10) if i % 50 == 0 else None,
                    "arm": ("control", "intervention")[i % 2],
                    "version_id": 1,
                }
                for i in range(start, min(count, start + 20_000))
            ],
        )
    ids = list(db.session.scalars(select(Participant.id)))
    versions = {v.name: v.id for v in db.session.scalars(select(InstrumentVersion))}
    rows = [
        {
            "site_code": SITES[(pid - 1) % 6],
            "participant_id": pid,
            "event": event,
            "instrument_name": name,
            "instrument_version_id": versions[name],
            "status": "incomplete" if pid % 7 == 0 else "complete",
            "collected_on": TODAY,
            "version_id": 1,
        }
        for pid in ids
        for event, name in (
            ("T0", "baseline_demographics"),
            ("T0", "social_inclusion_scale"),
            ("T1", "social_inclusion_scale"),
        )
        if event == "T0" or pid % 3
    ]
    for start in range(0, len(rows), 50_000):
        db.session.execute(insert(InstrumentResponse), rows[start : start + 50_000])
    db.session.commit()
    return token


def best(work) -> float:
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def run(count: int) -> None:
    from flask_migrate import upgrade

    from trialdm.instruments.models import InstrumentResponse
    from trialdm.participants.models import Participant

    folder = Path(tempfile.mkdtemp())
    app = create_app(
        {"DATABASE_URL": database_url(folder, count), "SECRET_KEY": "bench"},
        environ={"TRIALDM_INSTANCE_PATH": str(folder)},
    )
    # The page's login form without its CSRF token (a bench, not a browser).
    app.config["WTF_CSRF_ENABLED"] = False
    with app.app_context(), all_sites():
        upgrade()
        token = seed(count)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    url = f"/api/v1/status?as_of={TODAY}"

    def floor() -> None:
        # Read every participant with its responses once, grouped: no schedule, no states.
        with app.app_context():
            db.session.execute(
                select(
                    InstrumentResponse.event,
                    InstrumentResponse.instrument_name,
                    InstrumentResponse.status,
                    func.count(),
                )
                .select_from(Participant)
                .outerjoin(InstrumentResponse, InstrumentResponse.participant_id == Participant.id)
                .group_by(
                    InstrumentResponse.event,
                    InstrumentResponse.instrument_name,
                    InstrumentResponse.status,
                )
                .execution_options(trialdm_skip_site_scoping=True)
            ).all()
            db.session.remove()

    def api() -> None:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]

    browser = app.test_client()
    signed_in = browser.post(
        "/login", data={"email": "coordinator@grid.example", "password": "correct horse 17"}
    )
    assert signed_in.status_code == 302, signed_in.get_data(as_text=True)[:300]

    def page() -> None:
        response = browser.get(f"/status?as_of={TODAY}")
        assert response.status_code == 200, response.get_data(as_text=True)[:300]

    api()  # warm: the token's first use, caches
    page()
    floor_s = best(floor)
    api_s = best(api)
    page_s = best(page)
    overdue_s = best(lambda: client.get(url + "&site=BU&state=overdue", headers=headers))
    body = client.get(url, headers=headers).json
    print(
        f"participants {count:>7}: floor {floor_s:.3f} s | GET /api/v1/status {api_s:.3f} s "
        f"({api_s / floor_s:.1f}x) | page /status {page_s:.3f} s ({page_s / floor_s:.1f}x) "
        f"| BU overdue {overdue_s:.3f} s "
        f"({overdue_s / floor_s:.1f}x) | {len(body['columns'])} columns, "
        f"{len(body['items'])} rows on the page, total {body['meta']['total']}"
    )
    with app.app_context():
        db.engine.dispose()


if __name__ == "__main__":
    for n in [int(a) for a in sys.argv[1:]] or [10_000, 100_000]:
        run(n)
