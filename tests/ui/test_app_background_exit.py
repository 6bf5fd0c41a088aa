"""A forced exit ends this process's helpers and never a background worker it started.

Real processes: a child Python starts two `sleep`s, one in its own session as a background
worker is (setsid), then runs the exit guard's `kill_helpers`; only the helper of its own
session may die.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

from tests.terminal import procs
from tests.worker.helpers import wait_for

CHILD = textwrap.dedent(
    """
    import subprocess, sys
    from tui_scraper.exit_guard import descendants, kill_helpers, same_session

    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    helper = subprocess.Popen(["sleep", "60"], **quiet)
    worker = subprocess.Popen(["sleep", "60"], start_new_session=True, **quiet)
    mine = same_session(descendants())
    print(helper.pid, worker.pid, int(helper.pid in mine), int(worker.pid in mine), flush=True)
    kill_helpers()
    helper.wait()
    print(helper.returncode, flush=True)
    """
)


def test_kill_helpers_spares_a_process_of_another_session() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    helper, worker, helper_listed, worker_listed = map(int, first.split())
    try:
        assert (helper_listed, worker_listed) == (1, 0)
        assert int(second) == -signal.SIGKILL
        assert not procs.alive(helper)
        assert procs.alive(worker)  # the background worker crawls on
    finally:
        if procs.alive(worker):
            os.kill(worker, signal.SIGKILL)
            wait_for(lambda: not procs.alive(worker), timeout=5)
