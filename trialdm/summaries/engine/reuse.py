"""Statements over a population, built once per process for each shape.

A population is a temporary table whose table object is the
process's own for its name and columns (:mod:`trialdm.core.temporary`), so a
statement built over it in one computation reads the right table in the next. Built
once, a statement keeps its SQLAlchemy cache key (memoised on the object), so a
computation pays neither the construction of its expressions nor the walk that keys
them for the compiled cache: that was most of the time of a table of a few hundred
people. The key must name everything the statement is built from.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

# Bounded: a process computes a handful of table shapes; edited table files add some.
LIMIT = 512
_built: dict[Hashable, Any] = {}
_lock = threading.Lock()


def reused(key: Hashable, build: Callable[[], T]) -> T:
    """``build()``, kept under ``key`` for the next computation of the same shape."""
    try:
        found = _built.get(key)
    except TypeError:  # a value of the key cannot be hashed: built each time
        return build()
    if found is None:
        found = build()
        with _lock:
            if len(_built) >= LIMIT:
                _built.clear()
            _built[key] = found
    return found


def statement_key(statement: Any) -> Hashable | None:
    """What makes ``statement`` the SQL it is: SQLAlchemy's cache key and the values of
    its parameters (None when it has no cache key). A statement built from another
    one keyed so is the same statement."""
    found = statement._generate_cache_key()
    if found is None:
        return None
    return found.key, tuple(p.effective_value for p in found.bindparams)


def shape_of(population: Any) -> tuple[Any, Any]:
    """What a statement over ``population`` (an alias of a temporary table) is built
    from: the table under the alias and the alias's name; two aliases of one table
    under one name give the same SQL."""
    return getattr(population, "element", population), getattr(population, "name", None)


def column_name(population: Any, value: Any) -> str | None:
    """The name of ``value`` when it is a column of ``population`` (else None: an
    expression is not keyed, its statement is built each time)."""
    name = getattr(value, "key", None)
    if isinstance(name, str) and population.c.get(name) is value:
        return name
    return None
