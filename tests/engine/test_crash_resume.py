"""Kill the crawler at random moments and at named points; resume; nothing lost or duplicated."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tui_scraper.engine.batching import BATCH_SIZE

from .conftest import cli, popen_cli
from .invariants import assert_store_invariants, page_states, session_status
from .killloop import kill_loop
from .site import SiteServer, generated_site

CONCURRENCY = 8
# The refetch bound the crawler states (crawler.py module doc): per kill, at most the requests
# in flight plus the batch being committed plus the batch gathered behind it.
KILL_BOUND = CONCURRENCY + 2 * BATCH_SIZE


def _expected(server: SiteServer, pages: int) -> set[str]:
    return {server.base + ("/" if i == 0 else f"/p/{i}.html") for i in range(pages)}


@pytest.mark.slow
def test_sigkill_random_points_resume_exact(tmp_path: Path) -> None:
    seed = int(os.environ.get("CRASH_SEED", random.randrange(1_000_000)))
    print(f"crash test seed: {seed} (rerun with CRASH_SEED={seed})")
    n_pages = 1200
    server = SiteServer(generated_site(n_pages, filler=60)).start()
    data = tmp_path / "d"
    try:
        args = ["--headless", "--concurrency", str(CONCURRENCY), "--per-host", str(CONCURRENCY)]
        report = kill_loop(data, server, args, kills=8, rng=random.Random(seed))
        if report.final_returncode != -signal.SIGKILL:
            assert report.final_returncode == 0, report.final_stderr
        states = page_states(data)
        expected = _expected(server, n_pages)
        assert {u for u, s in states.items() if s == "done"} == expected
        assert all(s == "done" for s in states.values()), "nothing left queued/fetching/failed"
        assert session_status(data)[0][1] == "completed"
        assert_store_invariants(data)
        hits = server.hits()
        hits.pop("/robots.txt", None)
        duplicates = sum(n - 1 for n in hits.values())
        print(f"kills={report.kills} refetches per kill={report.lost_per_kill} bound={KILL_BOUND}")
        assert all(n <= 1 + report.kills for n in hits.values())
        # Per kill, not on average: every kill stays within the stated bound.
        assert all(lost <= KILL_BOUND for lost in report.lost_per_kill), report.lost_per_kill
        assert duplicates <= sum(report.lost_per_kill)
    finally:
        server.stop()


@pytest.mark.parametrize("point", ["after_blob_write", "before_checkpoint", "after_checkpoint"])
def test_crash_at_named_points(tmp_path: Path, point: str) -> None:
    server = SiteServer(generated_site(80)).start()
    data = tmp_path / "d"
    try:
        crashed = cli(
            data, "crawl", server.base + "/", "--headless", env={"TUI_SCRAPER_CRASH_AT": point}
        )
        assert crashed.returncode == -signal.SIGKILL, crashed.stderr
        assert_store_invariants(data)
        session_id = session_status(data)[0][0]
        resumed = cli(data, "resume", session_id, "--headless")
        assert resumed.returncode == 0, resumed.stderr
        states = page_states(data)
        assert {u for u, s in states.items() if s == "done"} == _expected(server, 80)
        assert_store_invariants(data)
    finally:
        server.stop()


def _done_count(data: Path) -> int:
    try:
        return sum(1 for s in page_states(data).values() if s == "done")
    except sqlite3.Error:
        return 0


def _wait_for_more_done(
    data: Path, before: int, proc: subprocess.Popen[str], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while _done_count(data) <= before and time.monotonic() < deadline:
        if proc.poll() is not None:
            return
        time.sleep(0.05)


def _has_done_page(data: Path) -> bool:
    try:
        return any(s == "done" for s in page_states(data).values())
    except sqlite3.Error:  # not created or not migrated yet
        return False


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_signals_checkpoint_and_exit_130(tmp_path: Path, signum: int) -> None:
    server = SiteServer(generated_site(3000, filler=10)).start()
    data = tmp_path / "d"
    try:
        proc = popen_cli(
            data, "crawl", server.base + "/", "--headless", "--concurrency", "2", "--per-host", "2"
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if _has_done_page(data):
                break
            time.sleep(0.2)
        proc.send_signal(signum)
        _out, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        assert "Traceback" not in err
        assert session_status(data)[0][1] == "interrupted"
        assert_store_invariants(data)
        # pages the server served before the signal are stored: nothing is left `fetching`
        assert "fetching" not in set(page_states(data).values())
        show = cli(data, "show", session_status(data)[0][0], "--json")
        assert show.returncode == 0
        assert signal.Signals(signum).name in show.stdout
        last = json.loads(show.stdout)["events"][-1]
        assert (last["to"], last["who"]) == ("interrupted", "signal")
    finally:
        server.stop()
