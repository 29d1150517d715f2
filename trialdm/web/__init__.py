"""Base templates, static files and the pages' blueprint (login, home)."""
