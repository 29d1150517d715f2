"""Entry point for gunicorn (``wsgi:app``) and Celery (``-A wsgi:celery``)."""

from trialdm import create_app

app = create_app()
celery = app.extensions["celery"]
