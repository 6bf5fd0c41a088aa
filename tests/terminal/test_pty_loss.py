"""The terminal goes away under the app (the emulator closed, an SSH link dropped): the real app
under a pty, the pty's master closed mid-crawl. The app and its helpers must be gone within 2 s
— also when no SIGHUP arrives (here: blocked before exec, as a `nohup`-like parent can leave
it), so only noticing the dead terminal itself can save it — and its crawl runs on in its
background worker, never marked by the app.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import signal
import sqlite3
import struct
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.worker.helpers import kill_workers, worker_pid

from . import procs

EXIT_BOUND_S = 2.0

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc, pty")


@pytest.fixture
def demo_url() -> Iterator[str]:
    from tui_scraper.demo import start_in_thread

    url, stop = start_in_thread()
    yield url
    stop()


def spawn_app(data: Path, url: str, *, block_sighup: bool) -> tuple[int, int]:
    pid, fd = pty.fork()
    if pid == 0:  # the child: the app, as a terminal emulator would start it
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        env["TERM"] = "xterm-256color"
        if block_sighup:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})  # survives exec
        os.execve(
            sys.executable,
            [sys.executable, "-m", "tui_scraper", "--data-dir", str(data), "crawl", url,
             "--rate", "2", "--max-pages", "200"],
            env,
        )  # fmt: skip
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    return pid, fd


def read_until(fd: int, needle: bytes, timeout: float, sink: bytearray) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return False
            if not chunk:
                return False
            sink.extend(chunk)
            if needle in sink:
                return True
    return False


def statuses(data: Path) -> dict[str, str]:
    db = sqlite3.connect(f"file:{data / 'scraper.db'}?mode=ro", uri=True)
    try:
        return dict(db.execute("SELECT id, status FROM sessions").fetchall())
    finally:
        db.close()


def done_pages(data: Path) -> int:
    if not (data / "scraper.db").exists():
        return 0
    db = sqlite3.connect(f"file:{data / 'scraper.db'}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT count(*) FROM pages WHERE status = 'done'").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def transitions(data: Path) -> list[str]:
    db = sqlite3.connect(f"file:{data / 'scraper.db'}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT to_status FROM session_events WHERE to_status IS NOT NULL ORDER BY id"
        ).fetchall()
    finally:
        db.close()
    return [str(row[0]) for row in rows]


def own_session(pids: list[int], leader: int) -> list[int]:
    """The processes of `pids` in `leader`'s session: the app and its helpers, not its
    background worker (a session of its own, meant to outlive the app)."""
    found = []
    for pid in pids:
        with contextlib.suppress(OSError):
            if os.getsid(pid) == os.getsid(leader):
                found.append(pid)
    return found


@pytest.mark.parametrize("block_sighup", [False, True], ids=["with_sighup", "no_sighup"])
def test_losing_the_pty_ends_the_app_within_2s(
    tmp_path: Path, demo_url: str, block_sighup: bool
) -> None:
    data = tmp_path / "d"  # short: the crawl's worker socket path must fit AF_UNIX
    pid, fd = spawn_app(data, demo_url, block_sighup=block_sighup)
    seen: list[int] = [pid]
    out = bytearray()
    try:
        assert read_until(fd, b"RUNNING", 60, out), out[-2000:].decode("utf-8", "replace")
        deadline = time.monotonic() + 60
        while done_pages(data) == 0:
            assert time.monotonic() < deadline, "no page done within 60 s"
            read_until(fd, b"\0never", 0.1, out)  # keep the pty drained while waiting
        seen = procs.tree(pid)
        tree = own_session(seen, pid)
        (session_id,) = statuses(data)
        worker = worker_pid(data, session_id)
        assert worker not in tree
        closed = time.monotonic()
        os.close(fd)  # the terminal is gone
        fd = -1
        procs.wait_gone(tree, timeout=30)
        took = time.monotonic() - closed
        assert took < EXIT_BOUND_S, f"the app and its helpers took {took:.2f} s to go"
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 130
        assert list(statuses(data).values()) == ["running"]
        assert procs.alive(worker) and worker_pid(data, session_id) == worker
        assert "interrupted" not in transitions(data)
    finally:
        kill_workers(data)
        if fd >= 0:
            os.close(fd)
        procs.kill_all(pid for pid in seen if procs.alive(pid))
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
