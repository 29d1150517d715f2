"""CPU time of one participant creation and of the floor request, in one process.

``api_write.py`` runs 2 gunicorn workers on 2 cores: it is CPU-bound, so its ratio
follows the CPU each request costs the application. This measures that CPU without
a server or client threads in the way: the requests go through the bench app
(``bench.floor_wsgi``) with Flask's test client, on a fresh database set up as
``api_write.py`` sets it up, in alternating rounds of floor and create requests. It
prints the CPU milliseconds per request of both (the least and the median over the
rounds; the least is the steadier on a loaded machine) and the floor's CPU over the
create's.

    .venv/bin/python bench/create_cpu.py [--rounds 8] [--requests 100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.api_write import bench_environment, participant_body, research_worker_token
from bench.scratch_databases import drop_postgres, fresh_postgres


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8, help="alternating rounds")
    parser.add_argument("--requests", type=int, default=100, help="requests of a kind per round")
    parser.add_argument(
        "--database-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/trialdm_bench_create_cpu",
    )
    args = parser.parse_args(argv)
    url = fresh_postgres(args.database_url)
    with tempfile.TemporaryDirectory(prefix="trialdm-bench-") as instance:
        env = bench_environment(url, instance)
        try:
            token = research_worker_token(env)
            os.environ.update(env)
            from bench.floor_wsgi import app
            from trialdm.extensions import db

            client = app.test_client()
            floor_headers = {"Content-Type": "application/json"}
            kinds = {
                "floor": ("/api/v1/bench/floor", floor_headers),
                "create": (
                    "/api/v1/participants",
                    {"Authorization": f"Bearer {token}", **floor_headers},
                ),
            }

            def send(kind: str, count: int) -> float:
                path, headers = kinds[kind]
                began = time.process_time()
                for n in range(count):
                    response = client.post(path, data=participant_body(n), headers=headers)
                    if response.status_code != 201:
                        raise SystemExit(f"{kind}: {response.get_data(as_text=True)[:300]}")
                return (time.process_time() - began) / count * 1000

            for kind in kinds:  # warm: imports, caches, prepared statements
                send(kind, args.requests)
            spent: dict[str, list[float]] = {kind: [] for kind in kinds}
            for _ in range(args.rounds):
                for kind in kinds:
                    spent[kind].append(send(kind, args.requests))
            with app.app_context():
                db.engine.dispose()
        finally:
            drop_postgres(url)
    least = {kind: min(times) for kind, times in spent.items()}
    print(f"CPU ms per request ({args.rounds} rounds of {args.requests}): least / median")
    for kind, times in spent.items():
        print(f"  {kind:7} {least[kind]:6.2f} / {statistics.median(times):6.2f}")
    print(f"floor CPU / create CPU (least): {least['floor'] / least['create']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
