"""Round trips to PostgreSQL of one participant creation and of the floor request.

Counts every message exchange with the server, not only the statements SQLAlchemy
sees: libpq's protocol trace of the connection is read and each ``ReadyForQuery``
the server sends ends one round trip (the pool's pre-ping, ``BEGIN``, every
statement, ``COMMIT``). The requests go through the bench app (``bench.floor_wsgi``)
in this process with Flask's test client, on a fresh database set up as
``api_write.py`` sets it up. Prints the exchanges of each request, in order.

    .venv/bin/python bench/create_round_trips.py
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.api_write import bench_environment, participant_body, research_worker_token
from bench.scratch_databases import drop_postgres, fresh_postgres


def exchanges(trace: str) -> list[str]:
    """The round trips in a libpq trace. Without pipelining the client waits for the
    server's answer after each simple ``Query`` and after each ``Sync`` that ends an
    extended-protocol exchange, so each of those messages is one round trip. Reads
    only the client's messages: libpq may write the server's answer to the last one
    after the request has returned."""
    found: list[str] = []
    sent: list[str] = []
    for line in trace.splitlines():
        parts = line.split("\t")
        if len(parts) < 4 or parts[1] != "F":
            continue
        message, text = parts[3], parts[4].strip() if len(parts) > 4 else ""
        if message == "Query":
            found.append(text.strip('"') or "(empty)")
        elif message == "Parse":
            sql = text.split('" "', 1)[-1].rstrip('"')
            sent.append(" ".join(sql.split())[:100])
        elif message == "Bind" and not sent:
            sent.append(f"(prepared {text.split()[1]})")
        elif message == "Sync":
            found.append(" | ".join(sent))
            sent = []
    return found


def count(client, trace: Path, path: str, body: bytes, headers: dict[str, str]) -> list[str]:
    """The round trips of one request: the part of the trace it added."""
    start = trace.stat().st_size
    response = client.post(path, data=body, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    with trace.open() as lines:
        lines.seek(start)
        return exchanges(lines.read())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/trialdm_bench_round_trips",
    )
    args = parser.parse_args(argv)
    url = fresh_postgres(args.database_url)
    with tempfile.TemporaryDirectory(prefix="trialdm-bench-") as instance:
        trace = Path(instance) / "libpq.trace"
        trace.touch()
        env = bench_environment(url, instance)
        try:
            token = research_worker_token(env)
            os.environ.update(env)
            from bench.floor_wsgi import app
            from trialdm.extensions import db

            def trace_connection(dbapi_connection, record) -> None:
                with trace.open("a") as sink:  # libpq writes through its own copy
                    dbapi_connection.pgconn.trace(os.dup(sink.fileno()))

            with app.app_context():
                sa.event.listen(db.engine, "connect", trace_connection)
            client = app.test_client()
            floor_headers = {"Content-Type": "application/json"}
            headers = {"Authorization": f"Bearer {token}", **floor_headers}
            for n in range(3):  # warm: counters exist, caches filled
                count(client, trace, "/api/v1/participants", participant_body(n), headers)
                count(client, trace, "/api/v1/bench/floor", participant_body(n), floor_headers)
            for label, path, sent_headers in (
                ("create", "/api/v1/participants", headers),
                ("floor", "/api/v1/bench/floor", floor_headers),
            ):
                seen = count(client, trace, path, participant_body(7), sent_headers)
                print(f"{label}: {len(seen)} round trips")
                for number, sent in enumerate(seen, 1):
                    print(f"  {number:2d}. {sent}")
            with app.app_context():
                db.engine.dispose()
        finally:
            drop_postgres(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
