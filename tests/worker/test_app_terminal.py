"""The installed app in a real terminal (tmux) runs its crawls in background workers.

The real `tui-scraper` console script, its data and config dirs in the test's tmp dir. A dropped
SSH link (the tmux server killed) ends the app within 2 s and leaves its crawl running to
`completed`; quitting the demo with Enter (keep crawling, the default) leaves it crawling too.
Judged by /proc and the store, never by a fixed sleep.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.invariants import assert_store_invariants, connect_ro, page_states
from tests.engine.site import SiteServer
from tests.terminal import procs

from .helpers import done_pages, events, lease_held, session_row, status_of, wait_for

pytestmark = [
    pytest.mark.terminal,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

EXIT_BOUND_S = 2.0  # the promise: the app is gone within 2 s of the terminal's loss
SCREEN_TIMEOUT_S = 60.0
CRAWL_TIMEOUT_S = 120.0
CONSOLE_SCRIPT = Path(sys.executable).parent / "tui-scraper"


class AppInTmux:
    def __init__(self, data_dir: Path, config_dir: Path) -> None:
        self.socket = f"tui-scraper-app-test-{uuid.uuid4().hex[:8]}"
        self.data_dir = data_dir
        self.config_dir = config_dir

    def tmux(self, *args: str, check: bool = False) -> str:
        out = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=check
        )
        return out.stdout

    def start(self, *args: str) -> int:
        """`tui-scraper ARGS` in a fresh terminal; the app's pid (exec'd by the pane's shell)."""
        command = [
            "env",
            "-u",
            "COLUMNS",
            "-u",
            "LINES",
            "TERM=xterm-256color",
            f"PATH={CONSOLE_SCRIPT.parent}{os.pathsep}{os.environ.get('PATH', '')}",
            f"TUI_SCRAPER_DATA_DIR={self.data_dir}",
            f"TUI_SCRAPER_CONFIG_DIR={self.config_dir}",
            "tui-scraper",
            *args,
        ]
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", "app", "-x", "100", "-y", "30",
                  f"exec {shlex.join(command)}", check=True)  # fmt: skip
        self.tmux("set-option", "-t", "app", "remain-on-exit", "on")
        return int(self.tmux("list-panes", "-t", "app", "-F", "#{pane_pid}", check=True))

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "app")

    def wait_for(self, text: str, timeout: float = SCREEN_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not shown within {timeout} s; screen:\n{screen}")

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.tmux("send-keys", "-t", "app", key)


@pytest.fixture
def terminal(data_dir: Path, tmp_path: Path) -> Iterator[AppInTmux]:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    app = AppInTmux(data_dir, config_dir)
    yield app
    app.tmux("kill-server")


def the_session(data_dir: Path) -> str | None:
    if not (data_dir / "scraper.db").exists():
        return None
    db = connect_ro(data_dir)
    try:
        rows = db.execute("SELECT id FROM sessions").fetchall()
    except Exception:  # the schema is being created
        return None
    finally:
        db.close()
    return str(rows[0][0]) if len(rows) == 1 else None


def in_a_worker(data_dir: Path, app_pid: int) -> tuple[str, int]:
    """Until the app's one session is crawling in a process that is not the app; (id, pid)."""
    from tui_scraper.backends.sqlite.lease import read_owner

    found: dict[str, object] = {}

    def held_elsewhere() -> bool:
        session_id = the_session(data_dir)
        if session_id is None or not lease_held(data_dir, session_id):
            return False
        pid = read_owner(data_dir, session_id).get("pid")
        found.update(id=session_id, pid=pid)
        return isinstance(pid, int) and pid != app_pid and done_pages(data_dir) > 0

    wait_for(held_elsewhere, timeout=SCREEN_TIMEOUT_S, what="the crawl runs in a worker")
    return str(found["id"]), int(found["pid"])  # type: ignore[call-overload]


def assert_completed_by(data_dir: Path, session_id: str, worker: int) -> None:
    """The worker that was running it finishes the crawl: nothing interrupted it."""
    wait_for(lambda: status_of(data_dir, session_id) == "completed", timeout=CRAWL_TIMEOUT_S)
    assert all(to != "interrupted" for to, _r, _w in events(data_dir, session_id))
    wait_for(lambda: not procs.alive(worker), timeout=10, what="the worker exits once done")
    assert_store_invariants(data_dir)


def test_ssh_drop_ends_the_app_within_2s_and_its_worker_completes(
    terminal: AppInTmux, data_dir: Path, site: SiteServer
) -> None:
    app_pid = terminal.start("crawl", f"{site.base}/", "--rate", "8")
    assert "tui-scraper" in procs.cmdline(app_pid)
    session_id, worker = in_a_worker(data_dir, app_pid)
    assert os.getsid(worker) != os.getsid(app_pid)  # a session of its own: no SIGHUP for it
    dropped = time.monotonic()
    terminal.tmux("kill-server")  # the terminal goes: SIGHUP to the app's session
    procs.wait_gone([app_pid], timeout=30)
    took = time.monotonic() - dropped
    assert took < EXIT_BOUND_S, f"the app took {took:.2f} s to go"
    assert procs.alive(worker) and status_of(data_dir, session_id) == "running"
    assert_completed_by(data_dir, session_id, worker)
    assert set(page_states(data_dir).values()) == {"done"} and done_pages(data_dir) == 60
    hits = site.hits()
    del hits["/robots.txt"]
    assert all(n == 1 for n in hits.values()), hits.most_common(3)


def test_demo_quit_enter_keeps_crawling_to_completed(terminal: AppInTmux, data_dir: Path) -> None:
    app_pid = terminal.start("demo")
    session_id, worker = in_a_worker(data_dir, app_pid)
    terminal.wait_for("q Quit")  # the live screen's keys are live
    terminal.keys("q")
    terminal.wait_for("Keep crawling in the background")
    terminal.wait_for(session_id[:8])
    terminal.keys("Enter")
    procs.wait_gone([app_pid], timeout=10)
    exit_status = terminal.tmux("list-panes", "-t", "app", "-F", "#{pane_dead_status}").strip()
    assert exit_status in ("0", ""), exit_status  # tmux may not have reaped it yet
    assert procs.alive(worker) and status_of(data_dir, session_id) == "running"
    assert_completed_by(data_dir, session_id, worker)
    progress = json.loads(session_row(data_dir, session_id)["progress"])
    assert progress["failed"] == 3 and progress["done"] > 200  # the demo site, 3 broken links
