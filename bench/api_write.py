#!/usr/bin/env python3
"""Participant creation over HTTP against gunicorn and PostgreSQL, as a ratio to a floor.

The script creates a fresh PostgreSQL database, migrates it, syncs the sites,
creates a research worker with an API token and starts gunicorn on a free
loopback port with ``bench.floor_wsgi:app`` (the application plus one
bench-only floor endpoint). Concurrent clients then send a fixed number of

* ``POST /api/v1/participants`` (schema validation, cross-field checks, token
  lookup, study-ID allocation, diagnoses, audit row), and
* ``POST /api/v1/bench/floor`` (one plain INSERT into the same table, no token),

alternating in rounds so that noise from other processes hits both alike. It
prints requests per second of both, their ratio, p50/p99 latency and errors,
then stops gunicorn and drops the database.

    .venv/bin/python bench/api_write.py [--requests 2000] [--concurrency 8] [--workers 2]

Aim: creation at least half the floor's rate.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from scratch_databases import drop_postgres, fresh_postgres

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/trialdm_bench_api_write"
USER_EMAIL = "bench.writer@example.org"
SITES = ("BU", "ULM", "UKE")
CREATE_PATH = "/api/v1/participants"
FLOOR_PATH = "/api/v1/bench/floor"


@dataclass
class Phase:
    """Outcome of the requests of one kind, summed over rounds."""

    name: str
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def done(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[round(q) - 1]


# --- set-up -------------------------------------------------------------------------------


def trialdm(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [str(BIN / "trialdm"), *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        sys.exit(f"trialdm {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def bench_environment(url: str, instance: str) -> dict[str, str]:
    """The settings of the app under test: the bench's database and instance folder."""
    return {
        **os.environ,
        "TRIALDM_DATABASE_URL": url,
        "TRIALDM_INSTANCE_PATH": instance,
        "TRIALDM_SECRET_KEY": secrets.token_hex(32),
        "TRIALDM_LOG_LEVEL": "WARNING",
    }


def research_worker_token(env: dict[str, str]) -> str:
    """Migrate, sync the sites, create the research worker of every site; its token."""
    trialdm(env, "db", "upgrade")
    trialdm(env, "sites", "sync")
    site_options = [option for code in SITES for option in ("--site", code)]
    trialdm(env, "users", "create", USER_EMAIL, "--role", "research_worker", *site_options)
    return trialdm(env, "users", "token", USER_EMAIL).strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(env: dict[str, str], port: int, workers: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--chdir",
            str(ROOT),
            "--log-level",
            "warning",
            "--backlog",
            "512",
            "bench.floor_wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"gunicorn exited with {server.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/v1/openapi.json")
            if conn.getresponse().status == 200:
                conn.close()
                return server
        except OSError:
            time.sleep(0.2)
    stop(server)
    sys.exit("gunicorn did not answer within 60 s")


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)  # gunicorn's graceful stop
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# --- load ---------------------------------------------------------------------------------


def participant_body(n: int) -> bytes:
    """A valid enrolled service user at one of a few sites, with two diagnoses."""
    return json.dumps(
        {
            "site": SITES[n % len(SITES)],
            "category": "service_user",
            "gender": ("female", "male", "diverse")[n % 3],
            "year_of_birth": 1970 + n % 30,
            "diagnoses": ["F20", {"code": "other", "text": "bench"}],
            "marital_status": "unmarried",
            "occupation": "bench",
            "years_of_illness": 3.5,
            "enrolment_date": "2024-03-01",
            "consent_date": "2024-02-20",
            "consent_version": "1.2",
            "arm": ("intervention", "control")[n % 2],
        }
    ).encode()


def run_load(
    port: int,
    path: str,
    headers: dict[str, str],
    count: int,
    concurrency: int,
    time_limit: float,
    phase: Phase,
) -> None:
    """Send ``count`` POSTs from ``concurrency`` threads; stop early at ``time_limit``."""
    next_index = iter(range(count))
    lock = threading.Lock()
    stop_at = time.monotonic() + time_limit

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop_at:
            with lock:
                n = next(next_index, None)
            if n is None:
                break
            body = participant_body(n)
            began = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                elapsed = time.perf_counter() - began
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                with lock:
                    phase.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            with lock:
                if response.status == 201:
                    phase.latencies.append(elapsed)
                else:
                    phase.errors.append(f"{response.status}: {payload[:200]!r}")
            if response.will_close:
                conn.close()
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    phase.seconds += time.perf_counter() - began


def measure(args: argparse.Namespace, port: int, token: str) -> tuple[Phase, Phase]:
    json_header = {"Content-Type": "application/json", "Accept": "application/json"}
    kinds: dict[str, tuple[str, dict[str, str]]] = {
        "create": (CREATE_PATH, {**json_header, "Authorization": f"Bearer {token}"}),
        "floor": (FLOOR_PATH, json_header),
    }
    # Warm up both (imports, connection pools, PostgreSQL caches); not counted.
    for path, headers in kinds.values():
        warm = Phase("warm-up")
        run_load(port, path, headers, 20 * args.concurrency, args.concurrency, 60, warm)
        if warm.errors:
            raise SystemExit(f"warm-up of {path} failed: {warm.errors[:3]}")
    phases = {name: Phase(name) for name in kinds}
    per_round = max(1, args.requests // args.rounds)
    deadline = time.monotonic() + args.time_limit
    for round_number in range(args.rounds):
        order: list[str] = ["floor", "create"] if round_number % 2 == 0 else ["create", "floor"]
        for name in order:
            path, headers = kinds[name]
            left = max(1.0, deadline - time.monotonic())
            run_load(port, path, headers, per_round, args.concurrency, left / 2, phases[name])
        if time.monotonic() >= deadline:
            print(f"time limit reached after {round_number + 1} round(s)", file=sys.stderr)
            break
    return phases["create"], phases["floor"]


def report(create: Phase, floor: Phase, args: argparse.Namespace) -> None:
    def ms(value: float) -> str:
        return f"{value * 1000:7.1f} ms"

    print()
    print(
        f"participant creation vs plain INSERT: gunicorn --workers {args.workers}, "
        f"{args.concurrency} concurrent clients, {args.rounds} alternating rounds"
    )
    print(f"{'':8} {'requests':>9} {'rps':>9} {'p50':>10} {'p99':>10} {'errors':>7}")
    for phase in (floor, create):
        print(
            f"{phase.name:8} {phase.done:9d} {phase.rps:9.1f} {ms(phase.percentile(50)):>10} "
            f"{ms(phase.percentile(99)):>10} {len(phase.errors):7d}"
        )
    ratio = create.rps / floor.rps if floor.rps else 0.0
    verdict = "meets" if ratio >= 0.5 else "BELOW"
    print(f"ratio create/floor: {ratio:.2f} ({verdict} the aim of 0.50)")
    for phase in (floor, create):
        for error in sorted(set(phase.errors))[:5]:
            print(f"  {phase.name} error: {error}")


# --- main ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per endpoint")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--rounds", type=int, default=4, help="alternating floor/create rounds")
    parser.add_argument(
        "--time-limit", type=float, default=300, help="seconds for all measured rounds"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TRIALDM_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="PostgreSQL database to create (dropped first if it exists, dropped at the end)",
    )
    parser.add_argument("--keep-database", action="store_true", help="do not drop it at the end")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = fresh_postgres(args.database_url)
    server: subprocess.Popen | None = None
    with tempfile.TemporaryDirectory(prefix="trialdm-bench-") as instance:
        env = bench_environment(url, instance)
        try:
            token = research_worker_token(env)
            port = free_port()
            server = start_gunicorn(env, port, args.workers)
            create, floor = measure(args, port, token)
        finally:
            if server is not None:
                stop(server)
            if not args.keep_database:
                drop_postgres(url)
    report(create, floor, args)
    return 0 if not (create.errors or floor.errors) else 1


if __name__ == "__main__":
    sys.exit(main())
