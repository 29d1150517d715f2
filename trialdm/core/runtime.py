"""Process-level settings of long bulk operations."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cyclic_collector_paused() -> Iterator[None]:
    """Run the block without the cyclic garbage collector's passes.

    A bulk operation that builds hundreds of thousands of acyclic objects (rows,
    dicts, strings) which all stay alive until it ends makes the collector walk the
    growing heap again and again for nothing: on a scan's first day at 100,000
    participants that was a third of its Python time. Reference counting still frees
    everything as usual; cycles made meanwhile are collected once the collector is
    back on. Nested uses leave it to the outermost to switch it back on."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def settle_start_up() -> None:
    """Keep what a process made at start (modules, the app, its mappers and
    configuration: most of its heap, alive as long as the process) out of the
    cyclic garbage collector's full passes. A full pass over that heap costs
    0.1-0.2 s of whichever request or task it falls in and comes every few hundred
    thousand allocations; frozen, the passes walk only what requests and tasks made.
    Start-up garbage is collected first, so nothing unreachable is kept. Processes
    forked after this (prefork children) share those pages instead of touching them.
    Called by both entry points, the web app's and the worker's."""
    gc.collect()
    gc.freeze()
