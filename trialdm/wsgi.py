"""Entry point of an installed service: ``gunicorn trialdm.wsgi:app`` and
``celery -A trialdm.wsgi:celery worker`` (the checkout's ``wsgi.py`` is the same)."""

from trialdm import create_app

app = create_app()
celery = app.extensions["celery"]
