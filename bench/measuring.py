"""Measuring a benchmark's processes: CPU seconds of this process and of its
PostgreSQL server process, peak memory, and a fresh process per measurement.
Imported by the scripts beside it (``python bench/x.py``)."""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
from pathlib import Path


def server_cpu_seconds(dbapi_connection) -> float:
    """CPU seconds used so far by the connection's server process, with PostgreSQL on
    this machine (read from /proc); 0 otherwise."""
    pid = getattr(getattr(dbapi_connection, "info", None), "backend_pid", None)
    if pid:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            pass
    return 0.0


def cpu_seconds(dbapi_connection) -> float:
    """CPU seconds used so far by this process and its server process: on a machine
    shared with other work the wall clock mostly measures the share of CPU a run got,
    this far less."""
    return time.process_time() + server_cpu_seconds(dbapi_connection)


def peak_mb() -> float:
    """This process's peak resident memory: VmHWM, which a fresh ``exec`` starts
    afresh (Linux keeps ru_maxrss across exec, so a child would report its parent's
    peak); ru_maxrss where /proc is not there."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_fresh_process(target, *args):
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(target, args)
