"""``bench/summaries.py --real``: the cross-site workbook as a coordinator gets it.

    .venv/bin/python bench/summaries.py --real --size upsides,100k \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/trialdm_bench_summ_real

Per size: a database of its own (PostgreSQL: ``<name>_<size>``, dropped first and at
the end; ``--database-url sqlite``: a file), the synthetic trial generated into it
and analysed, a coordinator with an API token (the ``trialdm`` command), and a Celery
worker started as production starts it (``celery -A trialdm.worker:celery worker``,
solo pool so that the build runs in the process whose memory is read) on the broker
of ``--broker-url`` with a queue of its own. Then ``POST /api/v1/summaries`` (scope
``all``) through the application's API and ``GET /api/v1/summaries/<id>`` every
0.2 s until the job is done.

It prints the worker's start-up (seconds until it reports ready, private memory
then), the end-to-end time from the POST to ``done``, and the worker's own memory
during the build: the peak of its private memory (RssAnon, sampled every 20 ms) and
its resident high-water mark (VmHWM). There is no floor here: the in-process run of
``bench/summaries.py`` measures the build against one; this measures what a person
waits for and what the worker needs.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from scratch_databases import drop_postgres, fresh_postgres

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
COORDINATOR = "summaries-bench@example.org"


def status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


class Worker:
    """A Celery worker process and its memory, read from /proc while it runs."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log.open("w")
        began = time.perf_counter()
        self.process = subprocess.Popen(
            [
                *(str(BIN / "celery"), "-A", "trialdm.worker:celery", "worker"),
                *("--pool", "solo", "--loglevel", "INFO", "-n", f"summbench{os.getpid()}@%h"),
                *("--without-gossip", "--without-mingle", "--without-heartbeat"),
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        while " ready." not in log.read_text():
            if self.process.poll() is not None:
                raise SystemExit(f"the worker stopped:\n{log.read_text()[-3000:]}")
            if time.perf_counter() - began > 120:
                raise SystemExit("the worker did not get ready in 120 s")
            time.sleep(0.05)
        self.start_seconds = time.perf_counter() - began
        self.start_mb = status_kb(self.process.pid, "RssAnon") / 1024
        self.private_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.private_kb = max(self.private_kb, status_kb(self.process.pid, "RssAnon"))

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        peak = status_kb(self.process.pid, "VmHWM") / 1024
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
        return {"peak_mb": peak, "private_mb": self.private_kb / 1024}


def trialdm(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [str(BIN / "trialdm"), *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if out.returncode:
        raise SystemExit(f"trialdm {' '.join(args)} failed:\n{out.stdout}{out.stderr}")
    return out.stdout


def request_and_wait(env: dict[str, str], token: str, timeout: float) -> dict[str, Any]:
    """POST the job through the API, poll it until done; seconds from the POST."""
    from trialdm import create_app

    app = create_app(environ=env)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    began = time.perf_counter()
    answer = client.post("/api/v1/summaries", json={"scope": "all"}, headers=headers)
    assert answer.status_code == 202, answer.get_data(as_text=True)
    job_id = answer.get_json()["id"]
    polls = 0
    while True:
        job = client.get(f"/api/v1/summaries/{job_id}", headers=headers).get_json()
        polls += 1
        if job["state"] in ("done", "failed"):
            break
        if time.perf_counter() - began > timeout:
            raise SystemExit(f"job {job_id} not done after {timeout:.0f} s: {job}")
        time.sleep(0.2)
    seconds = time.perf_counter() - began
    if job["state"] != "done":
        raise SystemExit(f"job {job_id} failed: {job.get('error')}")
    return {"seconds": seconds, "polls": polls}


def run_real(args: Any, sizes: list[int]) -> None:
    from summaries import generate_in_child

    print(
        f"{'participants':>12} {'database':>10} {'worker start s':>14} {'start MB':>8} "
        f"{'end-to-end s':>12} {'private MB':>10} {'VmHWM MB':>8}"
    )
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="trialdm-bench-real-") as tmp:
            folder = Path(tmp)
            if args.database_url == "sqlite":
                url, kind = None, "sqlite"
            else:
                base = sa.make_url(args.database_url)
                url = fresh_postgres(
                    base.set(database=f"{base.database}_{n}").render_as_string(False)
                )
                kind = "postgresql"
            try:
                url = generate_in_child(folder, n, url)
                env = {
                    **{k: v for k, v in os.environ.items() if not k.startswith("TRIALDM_")},
                    "TRIALDM_DATABASE_URL": url,
                    "TRIALDM_INSTANCE_PATH": str(folder / "instance"),
                    "TRIALDM_WORKBOOK_DIR": str(folder / "workbooks"),
                    "TRIALDM_SECRET_KEY": secrets.token_hex(16),
                    "TRIALDM_BROKER_URL": args.broker_url,
                    # A queue of this run's own: other workers on the broker leave it alone.
                    "TRIALDM_CELERY_QUEUE": f"summaries-bench-{os.getpid()}-{n}",
                    "TRIALDM_LOG_LEVEL": "WARNING",
                }
                trialdm(env, "users", "create", COORDINATOR, "--role", "coordinator")
                token = trialdm(env, "users", "token", COORDINATOR).strip().splitlines()[-1]
                worker = Worker(env, folder / "worker.log")
                try:
                    outcome = request_and_wait(env, token, timeout=3600)
                finally:
                    memory = worker.stop()
            finally:
                if url and kind == "postgresql":
                    drop_postgres(url)
        print(
            f"{n:>12,} {kind:>10} {worker.start_seconds:>14.2f} {worker.start_mb:>8.0f} "
            f"{outcome['seconds']:>12.2f} {memory['private_mb']:>10.0f} "
            f"{memory['peak_mb']:>8.0f}",
            flush=True,
        )
