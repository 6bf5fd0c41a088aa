"""A detached crawl outlives the real terminal it was started from (tmux): the pane's shell and
its process group get SIGHUP when the terminal goes, the worker runs on to `completed`."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.engine.site import SiteServer

from .helpers import RUN_CLI, events, lease_held, status_of, wait_for, worker_pid

pytestmark = [
    pytest.mark.terminal,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


def test_closing_the_terminal_does_not_stop_a_detached_crawl(
    data_dir: Path, site: SiteServer
) -> None:
    socket = f"tui-scraper-worker-test-{uuid.uuid4().hex[:8]}"
    crawl = [sys.executable, str(RUN_CLI), "--data-dir", str(data_dir), "crawl"]
    crawl += [f"{site.base}/", "--rate", "10", "--detach"]
    ids = data_dir.parent / "id.txt"
    script = f"{shlex.join(crawl)} > {shlex.quote(str(ids))} && exec sleep 120"

    def tmux(*args: str) -> None:
        subprocess.run(["tmux", "-L", socket, *args], capture_output=True, check=False)

    tmux("-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", "100", "-y", "30", script)
    try:
        wait_for(lambda: ids.exists() and len(ids.read_text().strip()) == 32, timeout=30)
        session_id = ids.read_text().strip()
        pid = worker_pid(data_dir, session_id)
    finally:
        tmux("kill-server")  # the terminal goes: SIGHUP to the pane's session
    assert lease_held(data_dir, session_id) and worker_pid(data_dir, session_id) == pid
    wait_for(lambda: status_of(data_dir, session_id) == "completed", timeout=60)
    assert all(to != "interrupted" for to, _r, _w in events(data_dir, session_id))
