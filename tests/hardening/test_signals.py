"""T80–T81: interrupts of a headless crawl, as `timeout` and an impatient person send them.

`timeout -s INT` signals its child *and* the child's process group: two SIGINTs milliseconds
apart. That is one interrupt, not a person pressing Ctrl-C twice: the orderly path (final
checkpoint, `interrupted`, exit 130) must run. A second Ctrl-C a second or more later does
force the exit, and even then the session is never left `running`.
"""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine.site import SiteServer, generated_site

from .conftest import RUN_CLI, assert_clean_stderr, cli, only_session, pages, popen_cli

# Slow enough that the crawl is still running when the signals come.
CRAWL = ("--headless", "--rate", "20", "--concurrency", "4", "--per-host", "4")


@pytest.fixture
def site() -> Iterator[SiteServer]:
    server = SiteServer(generated_site(2000, filler=10)).start()
    yield server
    server.stop()


def wait_for_done_page(data: Path, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        if (data / "scraper.db").exists():
            try:
                if any(status == "done" for status, _ in pages(data).values()):
                    return
            except sqlite3.Error:
                pass  # the schema is being created
        time.sleep(0.05)
    raise AssertionError(f"no page done within {timeout} s")


def wait_until_delivered(pid: int, signum: int, timeout: float = 10) -> None:
    """Until `signum` is no longer pending for `pid` (its handler has it). Two signals of one
    kind sent before the first is delivered merge into one: the test would then send just one."""
    mask = 1 << (signum - 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/status") as fh:
            fields = dict(line.split(":", 1) for line in fh if ":" in line)
        if not int(fields["ShdPnd"], 16) & mask and not int(fields["SigPnd"], 16) & mask:
            return
        time.sleep(0.001)
    raise AssertionError(f"signal {signum} still pending after {timeout} s")


def last_interruption(data: Path) -> dict[str, str]:
    session_id, _status, _error = only_session(data)
    show = cli(data, "show", session_id, "--json")
    assert show.returncode == 0, show.stderr
    (last,) = [e for e in json.loads(show.stdout)["events"] if e["to"] == "interrupted"][-1:]
    return last  # type: ignore[no-any-return]


def assert_orderly_interrupt(data: Path, stderr: str) -> None:
    assert only_session(data)[1] == "interrupted", stderr
    # The final checkpoint ran: every page the crawl had in hand is settled or queued again.
    assert "fetching" not in {status for status, _ in pages(data).values()}
    last = last_interruption(data)
    assert last["who"] == "signal" and last["reason"] == "signal SIGINT", last
    assert "BrokenPipe" not in stderr
    assert_clean_stderr(stderr)


def test_two_sigints_milliseconds_apart_are_one_interrupt(tmp_path: Path, site: SiteServer) -> None:
    data = tmp_path / "data"
    proc = popen_cli(data, "crawl", site.base + "/", *CRAWL)
    try:
        wait_for_done_page(data, proc)
        proc.send_signal(signal.SIGINT)
        wait_until_delivered(proc.pid, signal.SIGINT)
        proc.send_signal(signal.SIGINT)  # what `timeout` does: the child, then its group
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert_orderly_interrupt(data, err)


@pytest.mark.skipif(shutil.which("timeout") is None, reason="needs coreutils timeout")
def test_timeout_dash_s_int_takes_the_orderly_path(tmp_path: Path, site: SiteServer) -> None:
    data = tmp_path / "data"
    command = [sys.executable, str(RUN_CLI), "--data-dir", str(data), "crawl", site.base + "/"]
    done = subprocess.run(
        ["timeout", "--preserve-status", "-s", "INT", "4", *command, *CRAWL],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 130, done.stderr
    assert_orderly_interrupt(data, done.stderr)


def test_second_sigint_after_a_pause_forces_exit_but_never_leaves_running(
    tmp_path: Path, site: SiteServer
) -> None:
    data = tmp_path / "data"
    proc = popen_cli(data, "crawl", site.base + "/", *CRAWL)
    blocker = None
    try:
        wait_for_done_page(data, proc)
        # Hold the database's write lock: the final checkpoint cannot finish, as on a stuck disk.
        blocker = sqlite3.connect(data / "scraper.db", isolation_level=None, timeout=30)
        blocker.execute("BEGIN IMMEDIATE")
        proc.send_signal(signal.SIGINT)
        time.sleep(1.3)  # the human-scale gap under test, not a wait for a condition
        assert proc.poll() is None, "the orderly stop finished while the database was locked"
        proc.send_signal(signal.SIGINT)
        forced_at = time.monotonic()
        # The forced exit settles the session itself: it waits for the lock, briefly.
        time.sleep(0.3)
        blocker.rollback()
        blocker.close()
        blocker = None
        _out, err = proc.communicate(timeout=30)
        exited_after = time.monotonic() - forced_at
    finally:
        if blocker is not None:
            blocker.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert exited_after < 5.0, exited_after
    assert only_session(data)[1] == "interrupted", err
    last = last_interruption(data)
    assert last["who"] == "signal", last
    assert "Traceback" not in err and "BrokenPipe" not in err, err


async def test_interrupt_now_settles_running_sessions_bounded_by_the_lock(tmp_path: Path) -> None:
    """The forced exit's own transition (store.emergency), on a real database file: it moves a
    running session like the reaper does, leaves settled ones alone, and gives up in bounded
    time on a database another connection keeps locked."""
    import os

    from tui_scraper.backends.sqlite import Store
    from tui_scraper.backends.sqlite.emergency import interrupt_now
    from tui_scraper.domain import CrawlConfig, LeaseOwner, PageStatus

    store = await Store.open(tmp_path / "data")
    try:
        running = await store.create_session(CrawlConfig("http://127.0.0.1:9/"), who="test")
        settled = await store.create_session(CrawlConfig("http://127.0.0.1:9/"), who="test")
        owner = LeaseOwner("host", os.getpid(), time.time(), "run")
        await store.acquire_run(running.id, owner, who="test", reason="started")
        await store.claim_batch(running.id, 10, now=0)
        assert (await store.page_counts(running.id))[PageStatus.FETCHING] == 1  # the seed

        blocker = sqlite3.connect(store.db_path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        assert interrupt_now(store.db_path, [running.id], reason="r", who="w", timeout=0.2) == []
        assert time.monotonic() - started < 2.0
        blocker.rollback()
        blocker.close()

        moved = interrupt_now(
            store.db_path, [running.id, settled.id], reason="forced", who="signal", timeout=1.0
        )
        assert moved == [running.id]
        record = await store.get_session(running.id)
        assert record.status.value == "interrupted"
        assert (await store.get_session(settled.id)).status.value == "pending"
        counts = await store.page_counts(running.id)
        assert counts.get(PageStatus.FETCHING, 0) == 0 and counts[PageStatus.QUEUED] == 1
        last = (await store.events(running.id))[-1]
        assert (last.reason, last.who) == ("forced", "signal")
        await store.release_run(running.id)
    finally:
        await store.close()
