"""The installed app in a real terminal (tmux): keys in, screen text out (TEXTUAL-GUIDE §5c).

new session → live progress → quit while running (confirm) → start again → recovery →
resume → completed; and SIGHUP to the pane leaves the session `interrupted`.
Skipped when tmux is missing (.ci/run installs it).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.terminal,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

POLL_S = 0.05
# Keys sent in one burst can arrive in one read, where Textual took a tab typed right after
# text as part of it; a pause between key groups is also closer to a person typing.
KEY_GAP_S = 0.15


class Tmux:
    def __init__(self, data_dir: Path) -> None:
        self.socket = f"tui-scraper-test-{uuid.uuid4().hex[:8]}"
        self.data_dir = data_dir

    def run(self, *args: str, check: bool = True) -> str:
        out = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=check
        )
        return out.stdout

    def start(self, *app_args: str, term: str = "xterm-256color", size=(100, 30), env=()) -> None:  # type: ignore[no-untyped-def]
        # tmux replaces TERM; pytest's readline leaks COLUMNS/LINES into children (§4.1).
        command = [
            "env",
            "-u",
            "COLORTERM",
            "-u",
            "COLUMNS",
            "-u",
            "LINES",
            f"TERM={term}",
            *env,
            sys.executable,
            "-m",
            "tui_scraper",
            "--data-dir",
            str(self.data_dir),
            *app_args,
        ]
        self.run("-f", "/dev/null", "new-session", "-d", "-s", "app", "-x", str(size[0]),
                 "-y", str(size[1]), shlex.join(command))  # fmt: skip
        # Keep the pane after the app exits so its exit status can be read.
        self.run("set-option", "-t", "app", "remain-on-exit", "on", check=False)

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.run("send-keys", "-t", "app", key)
            time.sleep(KEY_GAP_S)

    def type(self, text: str) -> None:
        self.run("send-keys", "-t", "app", "-l", text)
        time.sleep(KEY_GAP_S)

    def screen(self, *, escapes: bool = False) -> str:
        return self.run(
            "capture-pane", "-p", *(["-e"] if escapes else []), "-t", "app", check=False
        )

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        return self.wait_until(lambda screen: text in screen, timeout, what=text)

    def wait_until(self, predicate: Callable[[str], bool], timeout: float, *, what: str) -> str:
        # Poll: tmux can show a half-drawn frame, never trust a single capture.
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if predicate(screen):
                return screen
            time.sleep(POLL_S)
        raise AssertionError(f"{what!r} not shown within {timeout} s; screen:\n{screen}")

    def pane_dead(self) -> bool:
        out = self.run("list-panes", "-t", "app", "-F", "#{pane_dead}", check=False)
        return out.strip() == "1"

    def exit_status(self, timeout: float = 20.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pane_dead():
                out = self.run(
                    "list-panes", "-t", "app", "-F", "#{pane_dead_status} #{pane_dead_signal}"
                )
                status, _, killed_by = out.strip().partition(" ")
                if status:
                    return int(status)
                # tmux can report the pane dead a moment before it has the exit status.
                assert not killed_by, f"killed by signal {killed_by}; screen:\n{self.screen()}"
            time.sleep(POLL_S)
        raise AssertionError(f"the app did not exit; screen:\n{self.screen()}")

    def pane_pid(self) -> int:
        return int(self.run("list-panes", "-t", "app", "-F", "#{pane_pid}").strip())

    def kill_session(self) -> None:
        self.run("kill-session", "-t", "app", check=False)

    def kill_server(self) -> None:
        self.run("kill-server", check=False)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    t = Tmux(tmp_path / "data")
    yield t
    t.kill_server()


@pytest.fixture
def demo_url() -> Iterator[str]:
    from tui_scraper.demo import start_in_thread

    url, stop = start_in_thread()
    yield url
    stop()


def sessions(data_dir: Path) -> list[dict[str, object]]:
    out = subprocess.run(
        [sys.executable, "-m", "tui_scraper", "--data-dir", str(data_dir), "sessions", "--json"],
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")},
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def interrupted_by(data_dir: Path, session_id: str) -> str:
    """Who moved the session to interrupted: the app itself when its handler ran ("signal", or
    the app's "ui:<pid>"), or the next process — here the `show` CLI, "cli:<pid>" — reaping a
    session whose owner died (crash safety, not a clean shutdown)."""
    out = subprocess.run(
        [sys.executable, "-m", "tui_scraper", "--data-dir", str(data_dir), "show", session_id,
         "--json"],
        capture_output=True,
        text=True,
        check=True,
    )  # fmt: skip
    events = json.loads(out.stdout)["events"]
    (last,) = [e for e in events if e["to"] == "interrupted"][-1:]
    return str(last["who"])


def fill_form(tmux: Tmux, url: str, *, max_pages: int, rate: float) -> None:
    """Type into the new-session form by keyboard only: URL, max pages, …, rate."""
    tmux.wait_for("Start URL")
    time.sleep(0.5)  # the form is drawn before it has finished mounting and taking focus
    tmux.type(url)
    tmux.keys("Tab")
    tmux.type(str(max_pages))
    tmux.keys("Tab", "Tab", "Tab", "Tab")  # max depth, concurrency, per host → rate
    tmux.type(str(rate))
    screen = tmux.wait_for(f"Start URL {url}")
    assert "Max pages 40" in screen or f"Max pages {max_pages}" in screen, screen
    tmux.keys("C-s")


def test_quit_while_running_then_recover_and_resume(tmux: Tmux, demo_url: str) -> None:
    tmux.start()
    tmux.wait_for("No sessions yet")
    tmux.keys("n")
    # Slow enough (5 pages/s, 40 pages) that the quit lands while the crawl runs.
    fill_form(tmux, demo_url, max_pages=40, rate=5)
    tmux.wait_for("RUNNING")
    tmux.wait_until(lambda s: "done 0 " not in s, 20, what="a page done")
    tmux.keys("Escape")
    tmux.wait_for("Sessions")
    tmux.keys("q")
    tmux.wait_for("Quit anyway?")
    tmux.keys("y")
    assert tmux.exit_status() == 0
    (record,) = sessions(tmux.data_dir)
    assert record["status"] == "interrupted"
    tmux.kill_session()

    started = time.monotonic()
    tmux.start()
    tmux.wait_for("Interrupted sessions")
    shown_after = time.monotonic() - started
    tmux.wait_for("quit while running")  # the reason, from the event timeline
    tmux.keys("r")
    tmux.wait_for("RUNNING")
    tmux.wait_for("COMPLETED", timeout=60)
    tmux.keys("Escape")
    tmux.wait_for("completed")
    tmux.keys("q")
    assert tmux.exit_status() == 0
    (record,) = sessions(tmux.data_dir)
    assert record["status"] == "completed"
    # "Shown within a second of start": process start-up (Python + Textual imports) included,
    # with slack for a loaded CI machine.
    assert shown_after < 5.0, shown_after


def test_sighup_leaves_the_session_interrupted(tmux: Tmux, demo_url: str) -> None:
    tmux.start()
    tmux.wait_for("No sessions yet")
    tmux.keys("n")
    fill_form(tmux, demo_url, max_pages=200, rate=2)
    tmux.wait_for("RUNNING")
    os.kill(tmux.pane_pid(), 1)  # SIGHUP, what a dropped SSH link sends
    status = tmux.exit_status()
    assert status == 130, status  # our handler ran: final checkpoint, then exit 130
    (record,) = sessions(tmux.data_dir)
    assert record["status"] == "interrupted"
    assert interrupted_by(tmux.data_dir, str(record["id"])).startswith(("signal", "ui:"))


GREYS_256 = {0, 7, 8, 15, 16, 231, *range(232, 256)}


def colours(raw: str) -> tuple[set[int], set[tuple[int, int, int]]]:
    """256-palette indexes and truecolor triples used in an SGR-escaped capture."""
    palette: set[int] = set()
    rgb: set[tuple[int, int, int]] = set()
    for seq in re.findall(r"\x1b\[([0-9;]*)m", raw):
        parts = [int(p) for p in seq.split(";") if p]
        i = 0
        while i < len(parts):
            if parts[i] in (38, 48) and parts[i + 1 : i + 2] == [5]:
                palette.add(parts[i + 2])
                i += 3
            elif parts[i] in (38, 48) and parts[i + 1 : i + 2] == [2]:
                rgb.add((parts[i + 2], parts[i + 3], parts[i + 4]))
                i += 5
            else:
                i += 1
    return palette, rgb


def test_sixteen_colours_at_80x24(tmux: Tmux) -> None:
    tmux.start(term="xterm", size=(80, 24))
    tmux.wait_for("No sessions yet")
    tmux.keys("n")
    tmux.wait_for("Start URL")
    palette, rgb = colours(tmux.screen(escapes=True))
    assert not rgb and not palette  # only the 16 basic SGR colours
    tmux.keys("Escape")
    tmux.wait_for("No sessions yet")
    tmux.keys("q")
    assert tmux.exit_status() == 0


def test_no_color_is_greyscale(tmux: Tmux) -> None:
    tmux.start(size=(80, 24), env=("NO_COLOR=1",))
    tmux.wait_for("No sessions yet")
    tmux.keys("n")
    tmux.wait_for("Start URL")
    palette, rgb = colours(tmux.screen(escapes=True))
    # Textual honours NO_COLOR by rendering in shades of grey: no hue anywhere.
    assert palette <= GREYS_256, sorted(palette - GREYS_256)
    assert all(r == g == b for r, g, b in rgb), rgb
    tmux.keys("Escape")
    tmux.wait_for("No sessions yet")
    tmux.keys("q")
    assert tmux.exit_status() == 0


def test_closing_the_terminal_leaves_the_session_interrupted(tmux: Tmux, demo_url: str) -> None:
    """What a dropped SSH link does: the pty goes away and the kernel sends SIGHUP."""
    tmux.start()
    tmux.wait_for("No sessions yet")
    tmux.keys("n")
    fill_form(tmux, demo_url, max_pages=200, rate=2)
    tmux.wait_for("RUNNING")
    tmux.kill_session()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        records = sessions(tmux.data_dir)
        if records and records[0]["status"] != "running":
            break
        time.sleep(0.2)
    (record,) = sessions(tmux.data_dir)
    assert record["status"] == "interrupted"
    assert interrupted_by(tmux.data_dir, str(record["id"])).startswith(("signal", "ui:"))
