"""Entry point of an installed web service: ``gunicorn trialdm.wsgi:app`` (the checkout's
``wsgi.py`` is the same). Workers and beat start from :mod:`trialdm.worker`, an app
without the web parts; ``celery`` here still serves ``-A trialdm.wsgi:celery``."""

from trialdm import create_app

app = create_app()
celery = app.extensions["celery"]
