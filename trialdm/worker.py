"""Entry point of the Celery worker and beat: ``celery -A trialdm.worker:celery worker``.

The application without its web parts (``create_app(web=False)``): no blueprints,
API documentation, forms, rate limits or migrations, so a worker starts lean and
each task imports what it uses (a summary build openpyxl, a Stata export its writer)
when it first runs. The statements a summary build spends most of its first
compiling are compiled here once (:mod:`trialdm.summaries.startup`), before a prefork
worker forks its children.
"""

from trialdm import create_app
from trialdm.core.runtime import settle_start_up
from trialdm.summaries.startup import prepare_summary_builds

app = create_app(web=False)
celery = app.extensions["celery"]
prepare_summary_builds(app)
settle_start_up()
