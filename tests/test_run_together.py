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


def children(process: subprocess.Popen, count: int) -> list[int]:
    """The commands' process ids, once ``count`` of them are running."""
    for _ in range(100):
        found = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(process.pid)], capture_output=True, text=True
        ).stdout.split()
        if len(found) >= count:
            return [int(pid) for pid in found]
        time.sleep(0.05)
    pytest.fail("the commands did not start")


def gone(pids: list[int]) -> bool:
    """No process left of the commands, nor of their own process groups."""
    for pid in pids:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            continue
        return False
    return True


def test_one_ctrl_c_stops_every_command_once():
    process = start("sleep 60", "sleep 61", "sleep 62")
    pids = children(process, 3)
    os.killpg(process.pid, signal.SIGINT)  # the terminal signals its foreground group
    err = process.communicate(timeout=10)[1]
    assert process.returncode == 130
    assert err.count("Stopping") == 1, err
    assert gone(pids)


def test_ctrl_c_while_the_commands_start_stops_those_started():
    """A signal between a command's start and its being recorded still stops it (the
    script would otherwise wait for it): Ctrl-C as soon as the first of many runs."""
    # durations no other test uses, so that what is left running is this test's
    commands = [f"sleep {3600 + n}" for n in range(12)]
    pattern = "^sleep 36(0[0-9]|1[01])$"
    try:
        for _ in range(5):
            process = start(*commands)
            children(process, 1)
            os.killpg(process.pid, signal.SIGINT)
            process.communicate(timeout=10)
            assert process.returncode == 130
            left = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
            assert not left.stdout.split(), left.stdout
    finally:
        subprocess.run(["pkill", "-KILL", "-f", pattern])


def test_a_command_ignoring_sigterm_is_killed_after_the_grace_time():
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    process = start("sleep 60", f'{sys.executable} -c "{stubborn}"')
    assert process.stdout.readline() == "ready\n"
    pids = children(process, 2)
    os.killpg(process.pid, signal.SIGINT)
    process.communicate(timeout=10)
    assert process.returncode == 130
    assert gone(pids)


def test_when_one_command_ends_the_others_are_stopped():
    process = start("sleep 60", "sh -c 'sleep 0.5; exit 3'")
    pids = children(process, 2)
    process.communicate(timeout=10)
    assert process.returncode == 3
    assert gone(pids)
