"""Politeness for the whole crawl, not per worker: real `tui-scraper` processes (the `crawl` that
started a PostgreSQL session and `worker`s that joined it) against a site on 127.0.0.1 that
records when each request arrived and how many were in flight then. With three workers the
site sees `--rate` for the crawl over any window (and the rate `set` tunes, once it is sent)
and never more than `--per-host` at once; a
worker SIGKILLed while holding starts on the host does not keep them: the survivor gets back to
the full per-host concurrency."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest
from aiohttp import web

from tests.cli_store.helpers import RUN_CLI, run
from tests.engine.site import SiteServer, generated_site
from tests.worker.helpers import wait_for

from .helpers import sql


@dataclass
class PacedSite(SiteServer):
    """The generated site, each page answered after `delay` s, every arrival recorded with the
    number of page requests in flight at that moment (robots.txt aside: it is not a page)."""

    delay: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        self.arrivals: list[tuple[float, int]] = []  # (monotonic time, in flight with it)
        self._in_flight = 0

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/robots.txt":
            return await super()._handle(request)
        with self._lock:
            self._in_flight += 1
            self.arrivals.append((time.monotonic(), self._in_flight))
        try:
            await asyncio.sleep(self.delay)
            return await super()._handle(request)
        finally:
            with self._lock:
                self._in_flight -= 1

    def recorded(self) -> list[tuple[float, int]]:
        with self._lock:
            return sorted(self.arrivals)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)


def _start(
    started: list[subprocess.Popen[str]], tmp_path: Path, *args: str
) -> tuple[subprocess.Popen[str], Path, Path]:
    n = len(started)
    out, err = tmp_path / f"cli{n}.out", tmp_path / f"cli{n}.err"
    env = dict(os.environ)
    env.pop("TUI_SCRAPER_DB", None)
    files: list[IO[str]] = [out.open("w"), err.open("w")]
    proc = subprocess.Popen(
        [sys.executable, str(RUN_CLI), *args],
        stdout=files[0],
        stderr=files[1],
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    for f in files:
        f.close()
    started.append(proc)
    return proc, out, err


def _crawl_with_workers(
    started: list[subprocess.Popen[str]],
    tmp_path: Path,
    pg_url: str,
    site: SiteServer,
    joined: int,
    *options: str,
) -> tuple[str, list[subprocess.Popen[str]]]:
    """`crawl --headless OPTIONS` on PostgreSQL, then `joined` workers once it runs; returns the
    session id and the workers."""
    _, out, _ = _start(
        started,
        tmp_path,
        "--db",
        pg_url,
        "crawl",
        f"{site.base}/",
        "--headless",
        "--ignore-robots",
        *options,
    )
    wait_for(lambda: out.read_text().strip() != "", timeout=60, what="the session id")
    session_id = out.read_text().split()[0]
    workers = [
        _start(started, tmp_path, "--db", pg_url, "worker", "--session", session_id)[0]
        for _ in range(joined)
    ]
    return session_id, workers


def _wait_all(started: list[subprocess.Popen[str]], tmp_path: Path) -> None:
    for n, proc in enumerate(started):
        if proc.returncode == -signal.SIGKILL:
            continue
        assert proc.wait(180) == 0, (tmp_path / f"cli{n}.err").read_text()


def _check_every_page_once(pg_url: str, session_id: str, pages: int) -> None:
    assert sql(pg_url, "SELECT status FROM sessions WHERE id = %s", (session_id,)) == [
        ("completed",)
    ]
    assert sql(
        pg_url,
        "SELECT status, count(*) FROM pages WHERE session_id = %s GROUP BY status",
        (session_id,),
    ) == [("done", pages)]
    # Nothing of the shared gate is left counted once every worker is gone.
    assert sql(pg_url, "SELECT count(*) FROM host_slots") == [(0,)]
    assert sql(pg_url, "SELECT coalesce(sum(in_flight), 0) FROM hosts") == [(0,)]


def _joined(pg_url: str, session_id: str) -> int:
    [(n,)] = sql(
        pg_url,
        "SELECT count(*) FROM session_events WHERE session_id = %s AND kind = 'worker'",
        (session_id,),
    )
    return int(n)


def _most_in_any_window(times: list[float], rate: float) -> float:
    """The largest excess of requests over rate × window, over every window between two
    arrivals: (requests in [t_i, t_j]) - rate × (t_j - t_i)."""
    worst = 0.0
    for i, start in enumerate(times):
        for j in range(i, len(times)):
            worst = max(worst, (j - i + 1) - rate * (times[j] - start))
    return worst


RATE_PAGES = 200


def test_the_rate_holds_for_the_crawl_over_three_workers_and_a_tuning_reaches_all(
    pg_url: str,
    tmp_path: Path,
    isolated_data_dir: Path,
    processes: list[subprocess.Popen[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`--rate 40` for the crawl while three workers run it, then `set --rate 10` sent to the
    session: from then on the three together send 10 a second."""
    # Short: the live channel's socket path (run/<32 hex>.sock) must fit in AF_UNIX's 107 bytes.
    short = Path(tempfile.mkdtemp(prefix="tsp"))
    monkeypatch.setenv("TUI_SCRAPER_DATA_DIR", str(short / "d"))
    fast, slow, per_host = 40.0, 10.0, 4
    site = PacedSite(generated_site(RATE_PAGES, filler=3), delay=0.02).start()
    try:
        session_id, _ = _crawl_with_workers(
            processes,
            tmp_path,
            pg_url,
            site,
            2,
            "--rate",
            str(fast),
            "--per-host",
            str(per_host),
            "--concurrency",
            "8",
        )
        wait_for(
            lambda: sql(pg_url, "SELECT count(*) FROM session_workers") == [(3,)],
            timeout=60,
            what="three workers at work",
        )
        tuned = run("--db", pg_url, "set", session_id, "--rate", str(slow))
        assert tuned.returncode == 0, tuned.stderr
        tuned_at = time.monotonic()
        _wait_all(processes, tmp_path)
        arrivals = site.recorded()
    finally:
        site.stop()
        shutil.rmtree(short, ignore_errors=True)
    _check_every_page_once(pg_url, session_id, RATE_PAGES)
    assert _joined(pg_url, session_id) == 2
    times = [t for t, _ in arrivals]
    assert len(times) == RATE_PAGES
    assert max(n for _, n in arrivals) <= per_host
    # Three workers pacing on their own would send 3 × the rate; together they send the rate,
    # give or take the jitter of when a request really leaves (a slack of a few requests).
    before = [t for t in times if t < tuned_at]
    after = [t for t in times if t > tuned_at + 1.0]  # a tuning applies within a second
    assert len(after) > 40, len(after)
    assert _most_in_any_window(before, fast) <= 5, _most_in_any_window(before, fast)
    assert _most_in_any_window(after, slow) <= 5, _most_in_any_window(after, slow)
    assert after[-1] - after[0] >= (len(after) - 5) / slow


CONCURRENCY_PAGES = 100


def test_per_host_concurrency_holds_for_the_crawl_over_three_workers(
    pg_url: str, tmp_path: Path, isolated_data_dir: Path, processes: list[subprocess.Popen[str]]
) -> None:
    per_host = 2
    site = PacedSite(generated_site(CONCURRENCY_PAGES, filler=3), delay=0.15).start()
    try:
        session_id, _ = _crawl_with_workers(
            processes,
            tmp_path,
            pg_url,
            site,
            2,
            "--per-host",
            str(per_host),
            "--concurrency",
            "8",
        )
        wait_for(
            lambda: sql(pg_url, "SELECT count(*) FROM session_workers") == [(3,)],
            timeout=60,
            what="three workers at work",
        )
        _wait_all(processes, tmp_path)
        arrivals = site.recorded()
    finally:
        site.stop()
    _check_every_page_once(pg_url, session_id, CONCURRENCY_PAGES)
    assert len(arrivals) == CONCURRENCY_PAGES
    most = max(n for _, n in arrivals)
    assert most == per_host, most  # reached, and never more with three workers of 8 each


KILL_PAGES = 150


def _worker_id(pg_url: str, pid: int) -> str | None:
    rows = sql(
        pg_url,
        "SELECT worker_id FROM session_workers WHERE split_part(owner, ':', 2) = %s",
        (str(pid),),
    )
    return None if not rows else str(rows[0][0])


def _slots_of(pg_url: str, worker_id: str | None) -> int:
    if worker_id is None:
        return 0
    [(n,)] = sql(pg_url, "SELECT count(*) FROM host_slots WHERE worker_id = %s", (worker_id,))
    return int(n)


def test_a_worker_killed_holding_starts_does_not_keep_them(
    pg_url: str, tmp_path: Path, isolated_data_dir: Path, processes: list[subprocess.Popen[str]]
) -> None:
    per_host = 3
    # Many links a page: the frontier holds more than one worker claims at once.
    site = PacedSite(generated_site(KILL_PAGES, fanout=40, filler=3), delay=0.3).start()
    try:
        session_id, [victim] = _crawl_with_workers(
            processes,
            tmp_path,
            pg_url,
            site,
            1,
            "--per-host",
            str(per_host),
            "--concurrency",
            "8",
        )
        wait_for(
            lambda: _slots_of(pg_url, _worker_id(pg_url, victim.pid)) >= 1,
            timeout=60,
            what="the victim holding starts on the host",
        )
        victim.kill()
        victim.wait(30)
        killed_at = time.monotonic()
        _wait_all(processes, tmp_path)
        arrivals = site.recorded()
    finally:
        site.stop()
    assert max(n for _, n in arrivals) <= per_host
    # Once the victim's own requests are over and its starts found dead (a refused reservation
    # drops them), the survivor alone has the host's full concurrency again.
    later = [n for t, n in arrivals if t > killed_at + 2.0]
    assert later, "the crawl ended too soon after the kill to tell"
    assert max(later) == per_host, max(later)
    _check_every_page_once(pg_url, session_id, KILL_PAGES)
