"""`tui-scraper attach ID` in real terminals (tmux, the installed console script) on a crawl
started with `--detach`: the live screen and its counters moving, two terminals at once, the
worker stopped (SIGSTOP) for 8 s and let go, and the attached terminal killed while the worker
crawls on to `completed` with every page fetched once."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.engine.site import SiteServer
from tests.terminal import procs

from .helpers import cli, done_pages, lease_held, status_of, wait_for, worker_pid

pytestmark = [
    pytest.mark.terminal,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

# The console script of the environment under test (the venv's bin/, as installed).
CONSOLE_SCRIPT = Path(sys.executable).parent / "tui-scraper"
SCREEN_TIMEOUT_S = 60.0  # generous: several test runs share two cores
EXIT_BOUND_S = 2.0
STOP_S = 8.0


class Terminals:
    """One private tmux server; each `open` is a terminal (a tmux session) of its own."""

    def __init__(self, data_dir: Path) -> None:
        self.socket = f"tui-scraper-attach-{uuid.uuid4().hex[:8]}"
        self.data_dir = data_dir
        self.names: list[str] = []

    def run(self, *args: str, check: bool = True) -> str:
        out = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=check
        )
        return out.stdout

    def open(self, name: str, *args: str, size: tuple[int, int] = (100, 30)) -> None:
        command = [
            "env",
            "-u",
            "COLORTERM",
            "-u",
            "COLUMNS",
            "-u",
            "LINES",
            "TERM=xterm-256color",
            str(CONSOLE_SCRIPT),
            "--data-dir",
            str(self.data_dir),
            *args,
        ]
        self.run("-f", "/dev/null", "new-session", "-d", "-s", name, "-x", str(size[0]),
                 "-y", str(size[1]), shlex.join(command))  # fmt: skip
        self.run("set-option", "-t", name, "remain-on-exit", "on", check=False)
        self.names.append(name)

    def screen(self, name: str) -> str:
        return self.run("capture-pane", "-p", "-t", name, check=False)

    def wait_until(
        self, name: str, predicate: Callable[[str], bool], *, what: str, timeout: float = 0
    ) -> str:
        deadline = time.monotonic() + (timeout or SCREEN_TIMEOUT_S)
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen(name)
            if predicate(screen):
                return screen
            time.sleep(0.05)
        raise AssertionError(f"{what!r} not shown in {name}; screen:\n{screen}")

    def done(self, name: str) -> int:
        found = re.search(r"done (\d+)", self.screen(name))
        return int(found.group(1)) if found else -1

    def counters_move(self, name: str) -> None:
        """The live screen shows counters, and they grow."""
        self.wait_until(name, lambda s: "RUNNING" in s and "done " in s, what="live counters")
        first = self.done(name)
        self.wait_until(name, lambda _s: self.done(name) > first, what=f"done > {first}")

    def pane_pid(self, name: str) -> int:
        return int(self.run("list-panes", "-t", name, "-F", "#{pane_pid}").strip())

    def pane_dead(self, name: str) -> bool:
        return self.run("list-panes", "-t", name, "-F", "#{pane_dead}", check=False).strip() == "1"

    def kill_server(self) -> None:
        self.run("kill-server", check=False)


@pytest.fixture
def terminals(data_dir: Path) -> Iterator[Terminals]:
    t = Terminals(data_dir)
    yield t
    t.kill_server()


def _detach(data_dir: Path, site: SiteServer, rate: str) -> str:
    started = cli(data_dir, "crawl", f"{site.base}/", "--rate", rate, "--detach")
    assert started.returncode == 0, started.stderr
    return started.stdout.strip()


def test_attach_shows_the_live_screen_in_two_terminals_at_once(
    data_dir: Path, site: SiteServer, terminals: Terminals
) -> None:
    session_id = _detach(data_dir, site, "4")
    pid = worker_pid(data_dir, session_id)
    terminals.open("one", "attach", session_id[:8])
    terminals.open("two", "attach", session_id)
    for name in ("one", "two"):
        screen = terminals.wait_until(name, lambda s: "RUNNING" in s, what="the live screen")
        assert f"worker pid {pid}" in screen
    for name in ("one", "two"):
        terminals.counters_move(name)
    # Leaving one terminal's app stops nothing: q asks, and Enter keeps it crawling.
    terminals.run("send-keys", "-t", "one", "q")
    terminals.wait_until("one", lambda s: "Keep crawling" in s, what="the quit question")
    terminals.run("send-keys", "-t", "one", "Enter")
    wait_for(lambda: terminals.pane_dead("one"), timeout=SCREEN_TIMEOUT_S, what="app one exits")
    terminals.counters_move("two")
    assert lease_held(data_dir, session_id) and worker_pid(data_dir, session_id) == pid


def test_a_worker_stopped_for_8_s_shows_reconnecting_then_live_again(
    data_dir: Path, site: SiteServer, terminals: Terminals
) -> None:
    session_id = _detach(data_dir, site, "3")
    pid = worker_pid(data_dir, session_id)
    terminals.open("app", "attach", session_id)
    terminals.counters_move("app")
    os.kill(pid, signal.SIGSTOP)
    stopped_at = time.monotonic()
    try:
        terminals.wait_until("app", lambda s: "reconnecting" in s, what="reconnecting")
        frozen = terminals.done("app")
        while time.monotonic() - stopped_at < STOP_S:
            # The figures stay on screen meanwhile, marked stale, and never move.
            assert terminals.done("app") == frozen
            time.sleep(0.2)
    finally:
        os.kill(pid, signal.SIGCONT)
    terminals.wait_until("app", lambda s: "reconnecting" not in s, what="live again")
    terminals.wait_until("app", lambda _s: terminals.done("app") > frozen, what="counters move")


def test_killing_the_attached_terminal_leaves_the_worker_crawling_to_completed(
    data_dir: Path, site: SiteServer, terminals: Terminals
) -> None:
    session_id = _detach(data_dir, site, "5")
    pid = worker_pid(data_dir, session_id)
    terminals.open("app", "attach", session_id)
    terminals.counters_move("app")
    app_processes = procs.tree(terminals.pane_pid("app"))
    terminals.kill_server()  # the SSH link drops: SIGHUP to the terminal's processes
    gone_in = procs.wait_gone(app_processes, timeout=EXIT_BOUND_S + 1)
    print(f"attached app gone {gone_in:.2f} s after the terminal")
    assert gone_in <= EXIT_BOUND_S
    assert lease_held(data_dir, session_id) and worker_pid(data_dir, session_id) == pid
    wait_for(lambda: status_of(data_dir, session_id) == "completed", timeout=90)
    assert done_pages(data_dir) == len(site.pages)
    fetched = site.hits()
    assert all(fetched[path] == 1 for path in site.pages), fetched
