"""Entry point of an installed web service: ``gunicorn trialdm.wsgi:app`` (the checkout's
``wsgi.py`` is the same). Workers and beat start from :mod:`trialdm.worker`, an app
without the web parts; ``celery`` here still serves ``-A trialdm.wsgi:celery``."""

from trialdm import create_app
from trialdm.core.runtime import settle_start_up

app = create_app()
celery = app.extensions["celery"]
# Each gunicorn worker imports this module once it has forked: its requests then pay
# the collector's full passes over what they made, not over the app's start-up heap.
settle_start_up()
