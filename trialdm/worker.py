"""Entry point of the Celery worker and beat: ``celery -A trialdm.worker:celery worker``.

The application without its web parts (``create_app(web=False)``): no blueprints,
API documentation, forms, rate limits or migrations, so a worker starts lean and
each task imports what it uses (a summary build openpyxl, a Stata export its writer)
when it first runs. A worker (not beat, which imports this module too) then compiles
the statements a summary build spends most of its first compiling
(:mod:`trialdm.summaries.startup`), in its main process before the pool forks its
children.
"""

from typing import Any

from celery.signals import worker_init

from trialdm import create_app
from trialdm.core.runtime import settle_start_up
from trialdm.summaries.startup import prepare_summary_builds

app = create_app(web=False)
celery = app.extensions["celery"]
settle_start_up()


@worker_init.connect
def prepare_tasks(**_signal: Any) -> None:
    """What a worker prepares once before it takes tasks; its result is frozen with the
    start-up heap (``settle_start_up`` again: it freezes what is new)."""
    prepare_summary_builds(app)
    settle_start_up()
