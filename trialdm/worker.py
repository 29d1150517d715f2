"""Entry point of the Celery worker and beat: ``celery -A trialdm.worker:celery worker``.

The application without its web parts (``create_app(web=False)``): no blueprints,
API documentation, forms, rate limits or migrations, so a worker starts lean and
each task imports what it uses (a summary build openpyxl, a Stata export its writer)
when it first runs.
"""

from trialdm import create_app
from trialdm.core.runtime import settle_start_up

app = create_app(web=False)
celery = app.extensions["celery"]
settle_start_up()
