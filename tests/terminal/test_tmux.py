"""The installed app in a real terminal (tmux): keys in, screen text out.

new session → live progress → quit while running (stop) → start again → recovery →
resume → completed; the README's demo story end to end; and a lost terminal, SIGHUP or SIGTERM
end the app *and its helper processes* within 2 s, whatever it was doing, while its crawl runs
on in its background worker (a session of its own), never marked. Every step waits on what the
screen, the store or /proc shows, never on a fixed sleep, with bounds meant for a loaded 2-core
machine. Skipped when tmux is missing (.ci/run installs it).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.worker.helpers import kill_workers, worker_pid

from . import procs

pytestmark = [
    pytest.mark.terminal,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

POLL_S = 0.05
SCREEN_TIMEOUT_S = 60.0  # generous: five test runs share two cores
EXIT_BOUND_S = 2.0  # the promise: gone within 2 s of SIGHUP, SIGTERM or the pty's loss


class Tmux:
    def __init__(self, data_dir: Path) -> None:
        self.socket = f"tui-scraper-test-{uuid.uuid4().hex[:8]}"
        self.data_dir = data_dir
        self.seen: set[int] = set()  # every app process and helper seen: none may outlive a test
        self.pane_pids: list[int] = []

    def run(self, *args: str, check: bool = True) -> str:
        out = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=check
        )
        return out.stdout

    def start(self, *app_args: str, term: str = "xterm-256color", size=(100, 30), env=()) -> None:  # type: ignore[no-untyped-def]
        # tmux replaces TERM; pytest's readline leaks COLUMNS/LINES into children.
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
        # Known from the start: exit_status() reads a zombie's status through it when tmux never
        # reports the pane's, and a test that never asked for the pid would wait out its timeout.
        # (An app that already left before remain-on-exit took its pane along: nothing to read.)
        with contextlib.suppress(subprocess.CalledProcessError, ValueError):
            self.pane_pid()

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.run("send-keys", "-t", "app", key)

    def type(self, text: str) -> None:
        self.run("send-keys", "-t", "app", "-l", text)

    def screen(self, *, escapes: bool = False) -> str:
        return self.run(
            "capture-pane", "-p", *(["-e"] if escapes else []), "-t", "app", check=False
        )

    def wait_for(self, text: str, timeout: float = SCREEN_TIMEOUT_S) -> str:
        return self.wait_until(lambda screen: text in screen, timeout, what=text)

    def wait_until(
        self,
        predicate: Callable[[str], bool],
        timeout: float = SCREEN_TIMEOUT_S,
        *,
        what: str,
        escapes: bool = False,
    ) -> str:
        # Poll: tmux can show a half-drawn frame, never trust a single capture.
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen(escapes=escapes)
            if predicate(screen):
                return screen
            time.sleep(POLL_S)
        raise AssertionError(f"{what!r} not shown within {timeout} s; screen:\n{screen}")

    def wait_focus(self, label: str) -> None:
        """Until the form field `label` has the focus: in the default 256-colour theme the
        focused input is drawn on background 235, the others on 234."""
        focused = re.compile(re.escape(label) + r".*\x1b\[48;5;235m")
        self.wait_until(
            lambda s: any(focused.search(line) for line in s.splitlines()),
            what=f"focus on {label}",
            escapes=True,
        )

    def pane_dead(self) -> bool:
        out = self.run("list-panes", "-t", "app", "-F", "#{pane_dead}", check=False)
        return out.strip() == "1"

    def exit_status(self, timeout: float = SCREEN_TIMEOUT_S) -> int:
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
                # tmux 3.3 sometimes never reaps a pane process that left with os._exit (seen
                # on a forced exit: the pane dead, the process a zombie, no status for good).
                # The kernel keeps a zombie's exit status in /proc: read it there.
                for pid in self.pane_pids:
                    code = procs.zombie_exit_code(pid)
                    if code is not None:
                        return code
            time.sleep(POLL_S)
        raise AssertionError(f"the app did not exit; screen:\n{self.screen()}")

    def pane_pid(self) -> int:
        pid = int(self.run("list-panes", "-t", "app", "-F", "#{pane_pid}").strip())
        if pid not in self.pane_pids:
            self.pane_pids.append(pid)
        return pid

    def app_pid(self) -> int:
        """The app's own process (the pane's command, or below it if a shell stayed between)."""
        for pid in procs.tree(self.pane_pid()):
            if "tui_scraper" in procs.cmdline(pid):
                self.seen.add(pid)
                return pid
        raise AssertionError(f"no tui_scraper process under the pane; screen:\n{self.screen()}")

    def app_tree(self) -> list[int]:
        """The app and its helpers (resource tracker, …) right now: the processes of its own
        session below it. Its background workers are its children too, but in sessions of
        their own, meant to outlive it."""
        app = self.app_pid()
        found = procs.tree(app)
        self.seen.update(found)
        return [pid for pid in found if _session_of(pid) == _session_of(app)]

    def terminal_modes(self) -> dict[str, str]:
        """The pane's terminal state as tmux keeps it (also after the app is gone)."""
        names = ("alternate_on", "mouse_any_flag", "mouse_standard_flag")
        out = self.run("display-message", "-p", "-t", "app", " ".join(f"#{{{n}}}" for n in names))
        return dict(zip(names, out.split(), strict=True))

    def kill_session(self) -> None:
        self.run("kill-session", "-t", "app", check=False)

    def kill_server(self) -> None:
        self.run("kill-server", check=False)


def _session_of(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except OSError:
        return None


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    t = Tmux(tmp_path / "d")  # short: a worker's socket path must fit AF_UNIX
    yield t
    # Background workers outlive the app on purpose; a test's own are ended here.
    kill_workers(t.data_dir)
    with_data_dir = procs.mentioning(str(t.data_dir))
    t.seen.update(with_data_dir)
    for pid in with_data_dir:
        t.seen.update(procs.tree(pid))
    t.kill_server()
    # No app and no helper may outlive its test (a closed terminal once left them behind for
    # good). Whatever is left after a generous bound is killed, and the test fails.
    try:
        procs.wait_gone(t.seen, timeout=20)
    except AssertionError:
        procs.kill_all(t.seen)
        raise


@pytest.fixture
def demo_url() -> Iterator[str]:
    from tui_scraper.demo import start_in_thread

    url, stop = start_in_thread()
    yield url
    stop()


CHILD_ENV = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}


def sessions(data_dir: Path) -> list[dict[str, object]]:
    out = subprocess.run(
        [sys.executable, "-m", "tui_scraper", "--data-dir", str(data_dir), "sessions", "--json"],
        capture_output=True,
        text=True,
        check=True,
        env=CHILD_ENV,
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def show(data_dir: Path, session_id: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-m", "tui_scraper", "--data-dir", str(data_dir), "show", session_id,
         "--json"],
        capture_output=True,
        text=True,
        check=True,
        env=CHILD_ENV,
    )  # fmt: skip
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def stored_statuses(data_dir: Path) -> dict[str, str]:
    """Session id -> status, read straight from the file: the CLI would reap orphans first."""
    if not (data_dir / "scraper.db").exists():
        return {}
    db = sqlite3.connect(f"file:{data_dir / 'scraper.db'}?mode=ro", uri=True)
    try:
        return dict(db.execute("SELECT id, status FROM sessions").fetchall())
    except sqlite3.OperationalError:  # killed before the schema existed
        return {}
    finally:
        db.close()


def done_pages(data_dir: Path) -> int:
    if not (data_dir / "scraper.db").exists():
        return 0
    db = sqlite3.connect(f"file:{data_dir / 'scraper.db'}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT count(*) FROM pages WHERE status = 'done'").fetchone()[0])
    except sqlite3.OperationalError:  # the schema is being created
        return 0
    finally:
        db.close()


def wait_page_done(data_dir: Path, timeout: float = SCREEN_TIMEOUT_S) -> None:
    """Until the crawl (in its worker) has stored a page."""
    deadline = time.monotonic() + timeout
    while done_pages(data_dir) == 0:
        assert time.monotonic() < deadline, f"no page done within {timeout} s"
        time.sleep(POLL_S)


def fill_form(tmux: Tmux, url: str, *, max_pages: int, rate: float) -> None:
    """Type into the new-session form by keyboard only: URL, max pages, …, rate."""
    tmux.wait_focus("Start URL")  # drawn is not yet mounted: keys before the focus are lost
    tmux.type(url)
    tmux.wait_for(f"Start URL {url}")
    tmux.keys("Tab")
    tmux.wait_focus("Max pages")
    tmux.type(str(max_pages))
    tmux.wait_for(f"Max pages {max_pages}")
    for label in ("Max depth", "Concurrency", "Per host", "Rate per host/s"):
        tmux.keys("Tab")
        tmux.wait_focus(label)
    tmux.type(str(rate))
    tmux.wait_for(f"Rate per host/s {rate}")
    tmux.keys("C-s")


def test_quit_while_running_then_recover_and_resume(tmux: Tmux, demo_url: str) -> None:
    tmux.start()
    tmux.wait_until(lambda s: "No sessions yet" in s and "n New" in s, what="sessions")
    tmux.keys("n")
    # Slow enough (5 pages/s, 40 pages) that the quit lands while the crawl runs.
    fill_form(tmux, demo_url, max_pages=40, rate=5)
    tmux.wait_for("RUNNING")
    wait_page_done(tmux.data_dir)
    tmux.keys("Escape")
    # The sessions screen's own footer ("^q Quit" is on every screen): its keys are live. Also
    # keeps `q` out of the moment where Textual would read ESC q as alt+q.
    tmux.wait_for("n New")
    tmux.keys("q")
    tmux.wait_for("Keep crawling in the background")
    tmux.keys("s")  # stop: a final checkpoint, then interrupted
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
    tmux.wait_for("COMPLETED", timeout=120)
    tmux.keys("Escape")
    tmux.wait_until(lambda s: "completed" in s and "n New" in s, what="sessions, completed")
    tmux.keys("q")
    assert tmux.exit_status() == 0
    (record,) = sessions(tmux.data_dir)
    assert record["status"] == "completed"
    # "Shown within a second of start": process start-up (Python + Textual imports) included,
    # with slack for a loaded machine.
    assert shown_after < 8.0, shown_after


def test_readme_demo_story_quit_start_again_resume(tmux: Tmux) -> None:
    """`tui-scraper demo`, quit while it runs, `tui-scraper`, `r`: it ends like a fresh crawl.

    The demo site lived in the first process; the resumed session must find it again (served
    on the port its config records), and the demo must run long enough to be quit by hand.
    """
    from tui_scraper.demo import expected_pages
    from tui_scraper.demo.session import DEMO_DOWNLOADS, demo_config

    tmux.start("demo")
    tmux.wait_for("RUNNING")
    wait_page_done(tmux.data_dir)
    tmux.keys("C-q")
    tmux.wait_for("Keep crawling in the background")
    tmux.keys("s")  # stop: a final checkpoint, then interrupted
    assert tmux.exit_status() == 0
    (record,) = sessions(tmux.data_dir)
    assert record["status"] == "interrupted"
    first = show(tmux.data_dir, str(record["id"]))
    config = first["config"]
    assert isinstance(config, dict)
    # The app's demo is the headless demo's session (same pages, PDF and image stored), paced.
    port = config["extra"]["demo_site"]["port"]
    assert config == json.loads(demo_config(port, paced=True).to_json())
    wanted = expected_pages(str(record["target_url"]), download=DEMO_DOWNLOADS)
    progress = record["progress"]
    assert isinstance(progress, dict)
    assert progress["done"] < len(wanted) / 2, "the demo was nearly over before it could be quit"
    tmux.kill_session()

    tmux.start()
    tmux.wait_for("Interrupted sessions")
    tmux.keys("r")
    tmux.wait_for("RUNNING")
    tmux.wait_for("COMPLETED", timeout=180)
    tmux.keys("C-q")
    assert tmux.exit_status() == 0
    (record,) = sessions(tmux.data_dir)
    progress = record["progress"]
    assert isinstance(progress, dict)
    assert record["status"] == "completed"
    assert (progress["done"], progress["failed"]) == (len(wanted) - 3, 3)  # the 3 broken links
    # Paced for a person: ~30 s of crawling in all, both runs together.
    assert progress["elapsed_s"] >= 20, progress


# --- a lost terminal, SIGHUP, SIGTERM: gone within 2 s, helpers included -------------------


def crawling(tmux: Tmux, url: str) -> list[int]:
    """`tui-scraper crawl URL --rate 2`: running in its worker, a page stored; returns the
    app's own processes."""
    tmux.start("crawl", url, "--rate", "2", "--max-pages", "200")
    tmux.wait_for("RUNNING")
    wait_page_done(tmux.data_dir)
    return tmux.app_tree()


def assert_gone_within_bound(tree: list[int], since: float) -> None:
    procs.wait_gone(tree, timeout=30)  # first all gone, then how long it took
    took = time.monotonic() - since
    assert took < EXIT_BOUND_S, f"the app and its helpers took {took:.2f} s to go"


def the_worker(data_dir: Path) -> int:
    """The pid of the background worker running the one session (not the app)."""
    (session_id,) = stored_statuses(data_dir)
    return worker_pid(data_dir, session_id)


def assert_still_crawling(data_dir: Path, worker: int) -> None:
    """The app is gone; its crawl runs on in the same worker, never marked by the app."""
    statuses = stored_statuses(data_dir)
    assert list(statuses.values()) == ["running"], statuses
    (session_id,) = statuses
    assert procs.alive(worker) and worker_pid(data_dir, session_id) == worker
    events = show(data_dir, session_id)["events"]
    assert isinstance(events, list)
    assert all(e["to"] != "interrupted" for e in events), events


def assert_terminal_restored(tmux: Tmux) -> None:
    """The terminal outlives the app (`kill PID` from another shell): back on the main screen,
    no mouse reporting, also when the exit had to be forced. (tmux hides the cursor of a dead
    pane itself, so the cursor cannot be checked here.)"""
    modes = tmux.terminal_modes()
    assert modes == {"alternate_on": "0", "mouse_any_flag": "0", "mouse_standard_flag": "0"}, modes


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM], ids=["SIGHUP", "SIGTERM"])
def test_signal_while_crawling_ends_the_app_within_2s(
    tmux: Tmux, demo_url: str, signum: int
) -> None:
    tree = crawling(tmux, demo_url)
    worker = the_worker(tmux.data_dir)
    assert worker not in tree
    sent = time.monotonic()
    os.kill(tree[0], signum)
    assert_gone_within_bound(tree, sent)
    assert tmux.exit_status() == 130  # our handler ran, then exit 130
    assert_still_crawling(tmux.data_dir, worker)
    assert_terminal_restored(tmux)


def test_sigterm_with_a_dialog_open_ends_the_app_within_2s(tmux: Tmux, demo_url: str) -> None:
    tree = crawling(tmux, demo_url)
    worker = the_worker(tmux.data_dir)
    tmux.keys("C-q")
    tmux.wait_for("Keep crawling in the background")
    sent = time.monotonic()
    os.kill(tree[0], signal.SIGTERM)
    assert_gone_within_bound(tree, sent)
    assert_still_crawling(tmux.data_dir, worker)
    assert_terminal_restored(tmux)


def test_stuck_final_checkpoint_still_exits_within_2s_terminal_restored(
    tmux: Tmux, demo_url: str
) -> None:
    """The database is stuck (another connection holds its write lock, as a stuck disk would):
    the app still leaves within the bound (forced if need be), gives the terminal back in the
    state the shell needs, and marks nothing: its crawl's worker waits for the lock and goes on.
    """
    tree = crawling(tmux, demo_url)
    worker = the_worker(tmux.data_dir)
    blocker = sqlite3.connect(tmux.data_dir / "scraper.db", isolation_level=None, timeout=30)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        sent = time.monotonic()
        os.kill(tree[0], signal.SIGTERM)
        assert_gone_within_bound(tree, sent)
    finally:
        blocker.rollback()
        blocker.close()
    assert tmux.exit_status() == 130
    assert_terminal_restored(tmux)
    assert_still_crawling(tmux.data_dir, worker)


@pytest.mark.parametrize("moment", ["at_launch", "first_frame", "crawling", "dialog_open"])
def test_closing_the_terminal_ends_the_app_within_2s(
    tmux: Tmux, demo_url: str, moment: str
) -> None:
    """What a dropped SSH link does: the pty goes away (tmux kill-session) and the kernel sends
    SIGHUP. Whatever the app was doing, it and its helpers are gone within 2 s; a crawl it
    started runs on in its worker, and no session is left `running` with nobody running it."""
    if moment in ("at_launch", "first_frame"):
        tmux.start("crawl", demo_url, "--rate", "2", "--max-pages", "200")
        if moment == "first_frame":
            tmux.wait_for("tui-scraper")
        tree = tmux.app_tree()
    else:
        tree = crawling(tmux, demo_url)
        worker = the_worker(tmux.data_dir)
        if moment == "dialog_open":
            tmux.keys("C-q")
            tmux.wait_for("Keep crawling in the background")
    closed = time.monotonic()
    tmux.kill_session()
    # Helpers started in the moment between the snapshot and the close are children too.
    assert_gone_within_bound(tree, closed)
    if moment in ("crawling", "dialog_open"):
        assert_still_crawling(tmux.data_dir, worker)
        return
    # Closed while starting: whatever session exists is either run by a live worker or not
    # `running` (never an orphan left marked running by a dead app).
    for session_id, status in stored_statuses(tmux.data_dir).items():
        if status == "running":
            assert worker_pid(tmux.data_dir, session_id) != tree[0]


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


def open_form_then_quit(tmux: Tmux) -> str:
    """Sessions → new-session form (its escaped capture is returned) → back → quit, exit 0."""
    tmux.wait_until(lambda s: "No sessions yet" in s and "n New" in s, what="sessions")
    tmux.keys("n")
    tmux.wait_for("^s Start")  # the form's footer: mounted, its keys live
    raw = tmux.screen(escapes=True)
    tmux.keys("Escape")
    # The sessions screen again, with its own keys live: `q` would otherwise go to the form.
    tmux.wait_until(lambda s: "No sessions yet" in s and "n New" in s, what="sessions again")
    tmux.keys("q")
    assert tmux.exit_status() == 0
    return raw


def test_sixteen_colours_at_80x24(tmux: Tmux) -> None:
    tmux.start(term="xterm", size=(80, 24))
    palette, rgb = colours(open_form_then_quit(tmux))
    assert not rgb and not palette  # only the 16 basic SGR colours


def test_no_color_is_greyscale(tmux: Tmux) -> None:
    tmux.start(size=(80, 24), env=("NO_COLOR=1",))
    palette, rgb = colours(open_form_then_quit(tmux))
    # Textual honours NO_COLOR by rendering in shades of grey: no hue anywhere.
    assert palette <= GREYS_256, sorted(palette - GREYS_256)
    assert all(r == g == b for r, g, b in rgb), rgb
