"""The worker's app (``trialdm.worker``) starts without the web's and the heavy
tasks' libraries: a fresh interpreter creates it, imports every task module as the
worker does, and lists what it loaded. Both entry points, the worker's and the web's,
freeze their start-up heap."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Loaded only where used: migrations by the CLI, the API's documentation, forms and
# rate limits by the web, openpyxl (and numpy with it) by a summary build, pandas /
# pyreadstat / python-docx by exports and transcripts.
HEAVY = (
    "flask_smorest",
    "apispec",
    "webargs",
    "alembic",
    "flask_migrate",
    "flask_wtf",
    "wtforms",
    "flask_limiter",
    "openpyxl",
    "numpy",
    "pandas",
    "pyreadstat",
    "docx",
    "matplotlib",
)

PROBE = """
import gc, importlib, json, sys
import trialdm.worker as worker
frozen = gc.get_freeze_count()
for name in worker.celery.conf.include:
    importlib.import_module(name)
print(json.dumps({"modules": sorted(sys.modules), "tasks": sorted(worker.celery.tasks),
                  "frozen": frozen}))
"""


def _in_a_fresh_interpreter(probe: str, tmp_path: Path) -> dict:
    """What ``probe`` prints as JSON on its last line, run by a new interpreter with a
    configuration of its own and nothing else from the environment."""
    env = {
        "PATH": "/usr/bin:/bin",
        "TRIALDM_INSTANCE_PATH": str(tmp_path / "instance"),
        "TRIALDM_DATABASE_URL": f"sqlite:///{tmp_path / 'probe.db'}",
        "TRIALDM_BROKER_URL": "memory://",
        "TRIALDM_SECRET_KEY": "test",
    }
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, env=env
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_worker_app_does_not_import_web_or_heavy_libraries(tmp_path):
    found = _in_a_fresh_interpreter(PROBE, tmp_path)
    loaded = {name.split(".")[0] for name in found["modules"]}
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
    # ...and it still runs every task.
    assert {"trialdm.summaries.build", "trialdm.exports.build"} <= set(found["tasks"])
    # The start-up heap is kept out of the collector's full passes (settle_start_up).
    assert found["frozen"] > 10_000


WEB_PROBE = """
import gc, json
import trialdm.wsgi as web
import sys
pages = "participant_pages" in web.app.blueprints
print(json.dumps({"frozen": gc.get_freeze_count(), "web": pages, "modules": sorted(sys.modules)}))
"""


def test_web_entry_point_keeps_its_start_up_heap_out_of_full_collections(tmp_path):
    """gunicorn's workers import ``trialdm.wsgi``: the app they made at start is frozen,
    so a request is not the one to walk that whole heap in a full collection."""
    found = _in_a_fresh_interpreter(WEB_PROBE, tmp_path)
    assert found["web"]
    assert found["frozen"] > 10_000


# What the web's processes import only when a request needs it: a workbook or Word
# document is written by the worker, or for a download of that format.
WEB_HEAVY = ("openpyxl", "numpy", "docx", "pandas", "pyreadstat", "matplotlib")


def test_web_app_does_not_import_the_file_writers(tmp_path):
    found = _in_a_fresh_interpreter(WEB_PROBE, tmp_path)
    loaded = {name.split(".")[0] for name in found["modules"]}
    assert found["web"]
    assert not loaded & set(WEB_HEAVY), sorted(loaded & set(WEB_HEAVY))


SIGNAL_PROBE = """
import json
from celery.signals import worker_init
import trialdm.worker as worker
calls = []
worker.prepare_summary_builds = lambda app: calls.append(app is worker.app) or 0
on_import = list(calls)
worker_init.send(sender=None)
print(json.dumps({"on_import": on_import, "on_worker_init": calls}))
"""


def test_only_a_worker_prepares_the_summary_builds(tmp_path):
    """Beat imports the worker's module too: the preparation runs when a worker
    starts (Celery's ``worker_init``, in its main process before the pool forks),
    not on import."""
    found = _in_a_fresh_interpreter(SIGNAL_PROBE, tmp_path)
    assert found == {"on_import": [], "on_worker_init": [True]}
