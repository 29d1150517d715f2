"""Values read once per request: the same reference data (instrument versions, their
stored wording) is asked for by several parts of one page, and a page's statement
count should not grow with the number of panels that need it.

Outside a request (a task, the shell, a test calling a query directly) nothing is
kept: every call computes. Operations that change such data call :func:`forget` so
that the rest of their request reads the new state."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import g, has_request_context

T = TypeVar("T")
_KEY = "_trialdm_request_cache"


def request_cached(key: str, compute: Callable[[], T]) -> T:
    """``compute()`` once per request under ``key``; every time outside a request."""
    if not has_request_context():
        return compute()
    cache: dict[str, object] = g.setdefault(_KEY, {})
    if key not in cache:
        cache[key] = compute()
    return cache[key]  # type: ignore[return-value]


def forget(prefix: str = "") -> None:
    """Drop what this request kept under keys starting with ``prefix`` (all by default)."""
    if not has_request_context():
        return
    cache: dict[str, object] = g.get(_KEY, {})
    for key in [k for k in cache if k.startswith(prefix)]:
        del cache[key]
