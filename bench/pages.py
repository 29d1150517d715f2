#!/usr/bin/env python3
"""Pages and lists at registry scale: p50/p99 and queries per request, as a ratio to a floor.

For each size it builds a fresh database (SQLite under a temporary folder, or
PostgreSQL with ``--database-url``, one database per size, dropped at the end) with a
synthetic trial: six sites, service users enrolled over two years in both arms (2 %
withdrawn), peer support workers, contacts for the intervention arm spread so that
every fidelity status occurs, and baseline/T1 questionnaires. It then sends, in
alternating rounds through the application (Flask's test client, one process):

* the floor: ``GET /bench/floor``, a bench-only endpoint on the same application that
  reads one page of 25 participants with one hand-written SQL statement (no scoping,
  no fidelity, no template) and answers JSON;
* ``GET /api/v1/participants`` first page, ``?fidelity=at_risk``, a deep page by
  number (``?page=``), and the next page by cursor (``?after=``);
* the pages: ``/participants`` (first, ``?fidelity=at_risk``, a deep page), the
  dashboard ``/`` and one intervention participant's page. The dashboard four
  times: warm (every site's results stored), after an audited change of a
  participant at one site (that site's widgets brought up to date or computed again;
  the change is written before the timing starts), after a questionnaire answer at
  one site (its due assessments alone computed again) and with nothing stored (every
  site computed, as on the first request of a day).

It prints p50 and p99 in milliseconds, the ratio of p50 to the floor's p50 and the
SQL statements each request ran. Aim: flat from 10k to 100k (the statement count the
same at both sizes, the ratio within a small factor).

    .venv/bin/python bench/pages.py                    # 10k and 100k on SQLite
    .venv/bin/python bench/pages.py --sizes 2k,10k --requests 10
    .venv/bin/python bench/pages.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/trialdm_bench_pages
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa
from scratch_databases import drop_postgres, fresh_postgres

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SITES = ("ULM", "UKE", "BU", "DS", "PU", "BGU")
EMAIL = "coordinator@pages.example"
PASSWORD = "correct horse 17"


def parse_size(text: str) -> int:
    text = text.strip().lower()
    if text.endswith("k"):
        return int(float(text[:-1]) * 1000)
    if text.endswith("m"):
        return int(float(text[:-1]) * 1_000_000)
    return int(text)


# --- database -----------------------------------------------------------------------------


def database_for(base: str | None, folder: str, size: int) -> str:
    if not base:
        return f"sqlite:///{folder}/pages_{size}.db"
    return fresh_postgres(base, f"{sa.make_url(base).database}_{size}")


def build(app, size: int, seed: int = 11) -> str:
    """The synthetic trial; returns the coordinator's API token."""
    from flask_migrate import upgrade

    from trialdm.auth.operations import create_token, create_user
    from trialdm.contacts.models import ContactAttendance, ContactSession, ContactSessionPsw
    from trialdm.core.scoping import all_sites
    from trialdm.extensions import db
    from trialdm.instruments.definitions import load_definition_folder
    from trialdm.instruments.models import InstrumentResponse, InstrumentVersion
    from trialdm.instruments.operations import sync_instruments
    from trialdm.participants.models import Participant
    from trialdm.sites.operations import load_site_files, sync_sites

    rng = random.Random(seed)
    today = date.today()
    with app.app_context(), all_sites():
        upgrade()
        sync_sites(db.session, load_site_files(Path(app.config["SITES_DIR"])))
        sync_instruments(
            db.session, load_definition_folder(Path(app.config["INSTRUMENTS_DIR"])), {}
        )
        user = create_user(db.session, EMAIL, "coordinator", [], PASSWORD)
        _, token = create_token(db.session, user, "bench")
        db.session.commit()
        conn = db.session.connection()
        psws = [
            {
                "id": 1 + i,
                "site_code": site,
                "category": "psw",
                "study_id": f"{site}-PSW-{i:02d}",
                "training_completed": today - timedelta(days=900),
                "active": True,
                "gender": "female",
                "version_id": 1,
            }
            for i, site in enumerate(SITES)
        ]
        conn.execute(sa.insert(Participant.__table__), psws)
        people = []
        for n in range(size):
            site = SITES[n % len(SITES)]
            enrolled = today - timedelta(days=rng.randint(1, 730))
            withdrawn = n % 50 == 0
            arm = "intervention" if n % 2 else "control"
            people.append(
                {
                    "id": 100 + n,
                    "site_code": site,
                    "category": "service_user",
                    "study_id": f"{site}-{n:07d}",
                    "gender": ("female", "male", "diverse")[n % 3],
                    "year_of_birth": enrolled.year - 20 - n % 40,
                    "enrolment_date": enrolled,
                    "consent_date": enrolled,
                    "consent_version": "1.0",
                    "arm": arm,
                    "status": "withdrawn" if withdrawn else "enrolled",
                    "withdrawal_date": enrolled + timedelta(days=20) if withdrawn else None,
                    "intervention_start": enrolled
                    if arm == "intervention" and n % 7 == 0
                    else None,
                    "version_id": 1,
                }
            )
        for start in range(0, len(people), 10_000):
            conn.execute(sa.insert(Participant.__table__), people[start : start + 10_000])
        sessions, attendances, links = [], [], []
        for person in people:
            if person["arm"] != "intervention":
                continue
            # 0 to 5 contacts in the first months: not started, at risk, on track, met
            for _ in range(rng.choice((0, 1, 1, 2, 3, 4, 5))):
                span = min(180, (today - person["enrolment_date"]).days)
                sid = len(sessions) + 1
                sessions.append(
                    {
                        "id": sid,
                        "site_code": person["site_code"],
                        "date": person["enrolment_date"] + timedelta(days=rng.randint(0, span)),
                        "format": "individual",
                        "mode": "in_person",
                        "version_id": 1,
                    }
                )
                attendances.append(
                    {
                        "session_id": sid,
                        "site_code": person["site_code"],
                        "participant_id": person["id"],
                    }
                )
                links.append(
                    {
                        "session_id": sid,
                        "site_code": person["site_code"],
                        "psw_id": 1 + SITES.index(person["site_code"]),
                    }
                )
        versions = {v.name: v.id for v in db.session.scalars(sa.select(InstrumentVersion))}
        responses = [
            {
                "site_code": person["site_code"],
                "participant_id": person["id"],
                "event": event,
                "instrument_name": name,
                "instrument_version_id": versions[name],
                "status": "complete",
                "collected_on": person["enrolment_date"] + timedelta(days=offset),
                "version_id": 1,
            }
            for person in people
            for event, name, offset in (
                ("T0", "baseline_demographics", 0),
                ("T0", "social_inclusion_scale", 0),
                ("T1", "social_inclusion_scale", 180),
            )
            if (event == "T0" and person["id"] % 10)
            or (
                event == "T1" and person["id"] % 3 and (today - person["enrolment_date"]).days > 200
            )
        ]
        for table, rows in (
            (ContactSession.__table__, sessions),
            (ContactAttendance.__table__, attendances),
            (ContactSessionPsw.__table__, links),
            (InstrumentResponse.__table__, responses),
        ):
            for start in range(0, len(rows), 10_000):
                conn.execute(sa.insert(table), rows[start : start + 10_000])
        db.session.commit()
        if conn.dialect.name == "postgresql":
            # PostgreSQL's own sequences were bypassed by the explicit ids above.
            for table in ("participants", "contact_sessions"):
                db.session.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
            db.session.commit()
        # In the session's own transaction: on SQLite an AUTOCOMMIT connection still
        # gets the app's BEGIN and no COMMIT, which dropped the statistics.
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()
    return token


# --- the floor ----------------------------------------------------------------------------


def add_floor(app) -> None:
    """``GET /bench/floor``: one page of participants by one hand-written statement."""
    from flask import Blueprint, jsonify

    from trialdm.auth.permissions import check_endpoint_permissions, public
    from trialdm.extensions import db

    floor = Blueprint("bench_pages_floor", __name__)
    statement = sa.text(
        "SELECT id, study_id, site_code, category, arm, status, enrolment_date "
        "FROM participants WHERE deleted_at IS NULL ORDER BY study_id LIMIT 25"
    )

    @floor.get("/bench/floor")
    @public
    def floor_page():
        rows = db.session.connection().execute(statement).all()
        return jsonify([{"id": r[0], "study_id": r[1], "site": r[2]} for r in rows])

    app.register_blueprint(floor)
    check_endpoint_permissions(app)


# --- measuring ----------------------------------------------------------------------------


class Counter:
    def __init__(self) -> None:
        self.statements = 0

    def __call__(self, *args) -> None:
        self.statements += 1


def measure(app, token: str, size: int, requests: int) -> list[tuple[str, list[float], int]]:
    from trialdm.extensions import db

    api = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    pages = app.test_client()
    login = pages.post("/login", data={"email": EMAIL, "password": PASSWORD})
    if login.status_code != 302:
        sys.exit(f"login failed: {login.status_code}")
    from trialdm.core.scoping import all_sites

    with app.app_context(), all_sites():
        from trialdm.contacts.models import ContactAttendance
        from trialdm.instruments.models import InstrumentResponse
        from trialdm.participants.models import Participant

        someone = db.session.scalar(
            sa.select(ContactAttendance.participant_id).order_by(ContactAttendance.id).limit(1)
        )
        ids = db.session.scalars(
            sa.select(Participant.id).order_by(Participant.id).offset(size * 9 // 10).limit(1)
        )
        deep_after = next(iter(ids))
        # a participant of each site, in the intervention arm where the site has one
        changeable = {
            site: db.session.scalar(
                sa.select(Participant.id)
                .where(Participant.site_code == site, Participant.category == "service_user")
                .order_by((Participant.arm == "intervention").desc(), Participant.id)
                .limit(1)
            )
            for site in SITES
        }
        # a response of each site (of a participant whose T0 is done), for an answer
        answerable = {
            site: db.session.scalar(
                sa.select(InstrumentResponse.id)
                .where(InstrumentResponse.site_code == site)
                .order_by(InstrumentResponse.id.desc())
                .limit(1)
            )
            for site in SITES
        }
        db.session.remove()
    deep_api = max(1, size // 50 * 9 // 10)  # 90 % down, 50 a page
    deep_page = max(1, size // 25 * 9 // 10)  # 90 % down, 25 a page

    def get(client, url: str, extra: dict | None = None) -> Callable[[], None]:
        def go() -> None:
            response = client.get(url, headers=extra or {})
            if response.status_code != 200:
                raise SystemExit(f"{url}: {response.status_code} {response.data[:300]!r}")

        return go

    # each case takes the sites in turn (half of them hold the intervention arm)
    changed, answered = iter(range(10**9)), iter(range(10**9))

    def change_one_site() -> None:
        """What an audited change of a participant writes: an audit row of one of the
        site's participants with the site's code (every widget reads participants),
        committed."""
        from trialdm.core.audit import record_event

        with app.app_context(), all_sites():
            site = SITES[next(changed) % len(SITES)]
            record_event(db.session, "bench_change", "participants", changeable[site], site)
            db.session.commit()
            db.session.remove()

    def answer_at_one_site() -> None:
        """What a questionnaire answer writes: an audit row of one of the site's
        responses with the site's code (the due assessments read responses, fidelity and
        enrolment do not), committed."""
        from trialdm.core.audit import record_event

        with app.app_context(), all_sites():
            site = SITES[next(answered) % len(SITES)]
            record_event(db.session, "bench_answer", "responses", answerable[site], site)
            db.session.commit()
            db.session.remove()

    def empty_store() -> None:
        from trialdm.web.widgetcache import widget_store

        with app.app_context():
            widget_store().clear()

    # a case's preparation runs before each of its requests, outside the timing
    prepare: dict[str, Callable[[], None]] = {
        "dashboard /, after a change at one site": change_one_site,
        "dashboard /, after an answer at one site": answer_at_one_site,
        "dashboard /, nothing stored": empty_store,
    }
    cases: list[tuple[str, Callable[[], None]]] = [
        ("floor (1 hand-written SELECT)", get(api, "/bench/floor")),
        ("API list, first page", get(api, "/api/v1/participants", headers)),
        ("API list, fidelity=at_risk", get(api, "/api/v1/participants?fidelity=at_risk", headers)),
        (f"API list, page {deep_api}", get(api, f"/api/v1/participants?page={deep_api}", headers)),
        ("API list, after= cursor", get(api, f"/api/v1/participants?after={deep_after}", headers)),
        ("page /participants", get(pages, "/participants")),
        ("page /participants?fidelity=at_risk", get(pages, "/participants?fidelity=at_risk")),
        (f"page /participants?page={deep_page}", get(pages, f"/participants?page={deep_page}")),
        ("dashboard /", get(pages, "/")),
        ("dashboard /, after a change at one site", get(pages, "/")),
        ("dashboard /, after an answer at one site", get(pages, "/")),
        ("dashboard /, nothing stored", get(pages, "/")),
        ("participant page", get(pages, f"/participants/{someone}")),
    ]
    counter = Counter()
    times: dict[str, list[float]] = {name: [] for name, _ in cases}
    statements: dict[str, int] = {}
    with app.app_context():
        engine = db.engine
    for name, go in cases:  # warm up, and count the statements of one request
        go()
        if name in prepare:
            prepare[name]()
        counter.statements = 0
        sa.event.listen(engine, "before_cursor_execute", counter)
        try:
            go()
        finally:
            sa.event.remove(engine, "before_cursor_execute", counter)
        statements[name] = counter.statements
    for _ in range(requests):  # alternate, so that other load hits every case alike
        for name, go in cases:
            if name in prepare:
                prepare[name]()
            started = time.perf_counter()
            go()
            times[name].append(time.perf_counter() - started)
    return [(name, times[name], statements[name]) for name, _ in cases]


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def run(size: int, base: str | None, requests: int) -> list[tuple[str, float, float, int]]:
    from trialdm import create_app
    from trialdm.extensions import db

    with tempfile.TemporaryDirectory(prefix="trialdm-pages-") as folder:
        url = database_for(base, folder, size)
        try:
            app = create_app(
                {
                    "DATABASE_URL": url,
                    "SECRET_KEY": "bench",
                    "BROKER_URL": "memory://",
                    "LOGIN_RATE_LIMIT": "1000 per minute",
                },
                environ={"TRIALDM_INSTANCE_PATH": folder},
            )
            app.config["WTF_CSRF_ENABLED"] = False  # the bench logs in with a plain POST
            add_floor(app)
            started = time.perf_counter()
            token = build(app, size)
            backend = sa.make_url(url).get_backend_name()
            built = time.perf_counter() - started
            print(f"\n{size:,} participants on {backend} (built in {built:.0f} s)")
            results = measure(app, token, size, requests)
            with app.app_context():
                db.engine.dispose()
        finally:
            drop_postgres(url)
    floor_p50 = statistics.median(results[0][1])
    print(f"{'':40} {'p50 ms':>9} {'p99 ms':>9} {'x floor':>8} {'queries':>8}")
    out = []
    for name, times, statements in results:
        p50, p99 = statistics.median(times), percentile(times, 99)
        print(
            f"{name:40} {p50 * 1000:9.1f} {p99 * 1000:9.1f} {p50 / floor_p50:8.1f} {statements:8d}"
        )
        out.append((name, p50, p99, statements))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10k,100k", help="participants, e.g. 10k,100k")
    parser.add_argument("--requests", type=int, default=20, help="requests per case and size")
    parser.add_argument("--database-url", help="PostgreSQL base URL (default: SQLite)")
    args = parser.parse_args(argv)
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    found = {size: run(size, args.database_url, args.requests) for size in sizes}
    if len(sizes) > 1:
        small, large = found[sizes[0]], found[sizes[-1]]
        print(f"\n{sizes[-1]:,} vs {sizes[0]:,}: p50 growth and queries")
        grew = False
        for (name, p50_s, _, q_s), (_, p50_l, _, q_l) in zip(small, large, strict=True):
            flat = "flat" if q_l == q_s else "GROWS"
            grew = grew or q_l != q_s
            print(f"{name:40} p50 x{p50_l / p50_s:5.1f}   queries {q_s} -> {q_l} ({flat})")
        return 1 if grew else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
