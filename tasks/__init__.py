"""Celery tasks: thin, named, take ids, run in an app context (trialdm.core.tasks.AppTask)
and call trialdm operations. Every module here is registered with the worker."""
