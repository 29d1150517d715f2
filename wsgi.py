"""Entry point for gunicorn (``wsgi:app``) and Celery (``-A wsgi:celery``) in a checkout;
an installed service uses ``trialdm.wsgi``."""

from trialdm.wsgi import app, celery

__all__ = ["app", "celery"]
