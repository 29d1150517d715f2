"""`make run` starts the web app, worker and beat with deploy/run-together: one Ctrl-C
stops them all once and the script ends; when one of them ends, so do the others."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "deploy" / "run-together"


def start(*commands: str) -> subprocess.Popen:
    # Its own process group with SIGINT at its default, as under a terminal's Ctrl-C.
    return subprocess.Popen(
        [str(SCRIPT), *commands],
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "STOP_SECONDS": "3"},
    )


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def wait_for_children(process: subprocess.Popen, count: int) -> None:
    for _ in range(100):
        found = subprocess.run(
            ["ps", "-o", "pid=", "-g", str(process.pid)], capture_output=True, text=True
        ).stdout.split()
        if len(found) >= 1 + count:
            return
        time.sleep(0.05)
    pytest.fail("the commands did not start")


def test_one_ctrl_c_stops_every_command_once():
    process = start("sleep 60", "sleep 61", "sleep 62")
    wait_for_children(process, 3)
    os.killpg(process.pid, signal.SIGINT)  # the terminal signals the whole group
    err = process.communicate(timeout=10)[1]
    assert process.returncode == 130
    assert err.count("Stopping") == 1, err
    assert group_gone(process.pid)


def test_a_command_ignoring_sigterm_is_killed_after_the_grace_time():
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    process = start("sleep 60", f'{sys.executable} -c "{stubborn}"')
    assert process.stdout.readline() == "ready\n"
    os.killpg(process.pid, signal.SIGINT)
    process.communicate(timeout=10)
    assert process.returncode == 130
    assert group_gone(process.pid)


def test_when_one_command_ends_the_others_are_stopped():
    process = start("sleep 60", "sh -c 'sleep 0.2; exit 3'")
    process.communicate(timeout=10)
    assert process.returncode == 3
    assert group_gone(process.pid)
