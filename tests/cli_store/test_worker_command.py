"""`tui-scraper worker`: real CLI processes on one PostgreSQL session of a site on 127.0.0.1 —
the `crawl` that started it and workers that joined — every page stored once, the session
completed once; one worker SIGKILLed and restarted a few times; pause reaching every worker;
and the refusals (SQLite, an unknown session)."""

from __future__ import annotations

import json
import os
import random
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

from tests.engine.site import SiteServer, generated_site
from tests.postgres.helpers import sql
from tests.worker.helpers import wait_for

from .helpers import RUN_CLI, one_line, run

PAGES = 2000


@pytest.fixture
def site() -> Iterator[SiteServer]:
    server = SiteServer(generated_site(PAGES, filler=3)).start()
    yield server
    server.stop()


@dataclass
class Cli:
    proc: subprocess.Popen[str]
    out: Path
    err: Path

    def stdout(self) -> str:
        return self.out.read_text()

    def stderr(self) -> str:
        return self.err.read_text()


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[list[Cli]]:
    started: list[Cli] = []
    yield started
    for cli in started:
        if cli.proc.poll() is None:
            cli.proc.kill()
        cli.proc.wait(30)


def _start(started: list[Cli], tmp_path: Path, *args: str) -> Cli:
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
    cli = Cli(proc, out, err)
    started.append(cli)
    return cli


def _first_crawl(started: list[Cli], tmp_path: Path, pg_url: str, site: SiteServer) -> str:
    """`crawl --headless` on PostgreSQL, paced so that the workers join while it runs."""
    owner = _start(
        started,
        tmp_path,
        "--db",
        pg_url,
        "crawl",
        f"{site.base}/",
        "--headless",
        "--rate",
        "150",
        "--concurrency",
        "8",
        "--per-host",
        "8",
    )
    wait_for(lambda: owner.stdout().strip() != "", timeout=60, what="the session id")
    session_id = owner.stdout().split()[0]
    wait_for(lambda: _counts(pg_url, session_id).get("done", 0) > 0, timeout=60, what="first pages")
    return session_id


def _counts(pg_url: str, session_id: str) -> dict[str, int]:
    rows = sql(
        pg_url,
        "SELECT status, count(*) FROM pages WHERE session_id = %s GROUP BY status",
        (session_id,),
    )
    return {str(status): int(n) for status, n in rows}


def _status(pg_url: str, session_id: str) -> str:
    [(status,)] = sql(pg_url, "SELECT status FROM sessions WHERE id = %s", (session_id,))
    return str(status)


def _check_stored_once(pg_url: str, session_id: str, site: SiteServer) -> dict[str, int]:
    assert _status(pg_url, session_id) == "completed"
    assert _counts(pg_url, session_id) == {"done": PAGES}
    assert sql(
        pg_url, "SELECT count(DISTINCT url) FROM pages WHERE session_id = %s", (session_id,)
    ) == [(PAGES,)]
    assert sql(
        pg_url,
        "SELECT count(*) FROM pages WHERE session_id = %s AND raw_html_storage_path IS NULL",
        (session_id,),
    ) == [(0,)]
    assert sql(pg_url, "SELECT pages_total FROM sessions WHERE id = %s", (session_id,)) == [
        (PAGES,)
    ]
    completed = sql(
        pg_url,
        "SELECT count(*) FROM session_events WHERE session_id = %s AND to_status = 'completed'",
        (session_id,),
    )
    assert completed == [(1,)]
    assert sql(pg_url, "SELECT count(*) FROM session_workers") == [(0,)]
    hits = {p: n for p, n in site.hits().items() if p != "/robots.txt"}
    assert len(hits) == PAGES
    return hits


@pytest.mark.parametrize("joined", [1, 2])
def test_workers_join_a_crawl_and_store_every_page_once(
    pg_url: str,
    site: SiteServer,
    tmp_path: Path,
    isolated_data_dir: Path,
    spawn: list[Cli],
    joined: int,
) -> None:
    session_id = _first_crawl(spawn, tmp_path, pg_url, site)
    workers = [
        _start(spawn, tmp_path, "--db", pg_url, "worker", "--session", session_id[:8])
        for _ in range(joined)
    ]
    for cli in spawn:
        assert cli.proc.wait(180) == 0, cli.stderr()
    hits = _check_stored_once(pg_url, session_id, site)
    assert set(hits.values()) == {1}
    for cli in workers:
        assert "Traceback" not in cli.stderr()
        assert f"session {session_id[:8]}" in cli.stderr()
    # Every worker did part of the crawl: each committed pages (its claims were its own).
    joins = sql(
        pg_url,
        "SELECT count(*) FROM session_events WHERE session_id = %s AND kind = 'worker'",
        (session_id,),
    )
    assert joins == [(joined,)]


def test_a_worker_killed_and_restarted_loses_nothing(
    pg_url: str, site: SiteServer, tmp_path: Path, isolated_data_dir: Path, spawn: list[Cli]
) -> None:
    """One of three workers SIGKILLed at random moments, three times, restarted each time:
    every page stored once, and the pages fetched twice at most what it held when it died
    (it is stopped first, so what it held is counted exactly, then killed)."""
    rng = random.Random(1515)
    session_id = _first_crawl(spawn, tmp_path, pg_url, site)
    steady = _start(spawn, tmp_path, "--db", pg_url, "worker", "--session", session_id)
    held_at_death = 0
    kills = 0
    victim = _start(spawn, tmp_path, "--db", pg_url, "worker", "--session", session_id)
    for _ in range(3):
        # A random moment: some pages after the victim registered.
        target = _counts(pg_url, session_id).get("done", 0) + rng.randint(20, 120)
        pid = victim.proc.pid
        wait_for(
            lambda pid=pid, target=target: (
                _worker_id(pg_url, pid) is not None
                and _counts(pg_url, session_id).get("done", 0) > target
            ),
            timeout=90,
            what="the victim at work",
        )
        if _status(pg_url, session_id) != "running":
            break
        victim.proc.send_signal(signal.SIGSTOP)
        worker_id = _worker_id(pg_url, victim.proc.pid)
        [(held,)] = sql(
            pg_url,
            "SELECT count(*) FROM pages WHERE lease_owner = %s AND status = 'fetching'",
            (worker_id,),
        )
        held_at_death += int(held)
        victim.proc.kill()
        victim.proc.wait(30)
        kills += 1
        if _status(pg_url, session_id) != "running":
            break
        victim = _start(spawn, tmp_path, "--db", pg_url, "worker", "--session", session_id)
    assert kills >= 1
    for cli in (spawn[0], steady):
        assert cli.proc.wait(180) == 0, cli.stderr()
    if victim.proc.poll() is None or victim.proc.returncode != -signal.SIGKILL:
        # The last one started: it either finished its part or found nothing left to join.
        assert victim.proc.wait(180) in (0, 2), victim.stderr()
    hits = _check_stored_once(pg_url, session_id, site)
    refetched = sum(n - 1 for n in hits.values())
    assert refetched <= held_at_death, (refetched, held_at_death)


def _worker_id(pg_url: str, pid: int) -> str | None:
    rows = sql(
        pg_url,
        "SELECT worker_id FROM session_workers WHERE split_part(owner, ':', 2) = %s",
        (str(pid),),
    )
    return None if not rows else str(rows[0][0])


def test_pause_reaches_every_worker(
    pg_url: str,
    site: SiteServer,
    tmp_path: Path,
    isolated_data_dir: Path,
    spawn: list[Cli],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Short: the live channel's socket path (run/<32 hex>.sock) must fit in AF_UNIX's 107 bytes.
    short = Path(tempfile.mkdtemp(prefix="tsw"))
    monkeypatch.setenv("TUI_SCRAPER_DATA_DIR", str(short / "d"))
    session_id = _first_crawl(spawn, tmp_path, pg_url, site)
    workers = [
        _start(spawn, tmp_path, "--db", pg_url, "worker", "--session", session_id) for _ in range(2)
    ]
    wait_for(
        lambda: sql(pg_url, "SELECT count(*) FROM session_workers") == [(3,)],
        timeout=60,
        what="three workers",
    )
    paused = run("--db", pg_url, "pause", session_id[:8])
    assert paused.returncode == 0, paused.stderr
    for cli in workers:
        assert cli.proc.wait(60) == 0, cli.stderr()
    assert spawn[0].proc.wait(60) == 130, spawn[0].stderr()
    assert _status(pg_url, session_id) == "paused"
    assert _counts(pg_url, session_id).get("fetching", 0) == 0
    assert sql(pg_url, "SELECT count(*) FROM session_workers") == [(0,)]
    shown = run("--db", pg_url, "show", session_id, "--json")
    assert json.loads(shown.stdout)["status"] == "paused"
    shutil.rmtree(short, ignore_errors=True)


def test_worker_on_sqlite_is_refused_in_one_line(isolated_data_dir: Path) -> None:
    result = run("worker")
    assert result.returncode == 2
    assert "worker needs --db postgresql://" in one_line(result.stderr)
    assert not isolated_data_dir.exists()


def test_worker_for_an_unknown_session_is_refused_in_one_line(
    pg_url: str, isolated_data_dir: Path
) -> None:
    result = run("--db", pg_url, "worker", "--session", "abcdef12")
    assert result.returncode == 2, result.stderr
    assert "abcdef12" in one_line(result.stderr)


def test_worker_with_nothing_running_exits_at_once(pg_url: str, isolated_data_dir: Path) -> None:
    started = time.monotonic()
    result = run("--db", pg_url, "worker")
    assert result.returncode == 0, result.stderr
    assert "no running session" in result.stderr
    assert time.monotonic() - started < 60


def test_a_worker_stopped_by_sigterm_requeues_its_claims_and_the_session_runs_on(
    pg_url: str, site: SiteServer, tmp_path: Path, isolated_data_dir: Path, spawn: list[Cli]
) -> None:
    session_id = _first_crawl(spawn, tmp_path, pg_url, site)
    worker = _start(spawn, tmp_path, "--db", pg_url, "worker", "--session", session_id)
    wait_for(lambda: _worker_id(pg_url, worker.proc.pid) is not None, timeout=60, what="joined")
    worker_id = _worker_id(pg_url, worker.proc.pid)
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.proc.wait(60) == 130, worker.stderr()
    assert "Traceback" not in worker.stderr()
    assert sql(pg_url, "SELECT count(*) FROM pages WHERE lease_owner = %s", (worker_id,)) == [(0,)]
    assert _status(pg_url, session_id) in ("running", "completed")
    assert spawn[0].proc.wait(180) == 0, spawn[0].stderr()
    _check_stored_once(pg_url, session_id, site)


def test_worker_help_explains_it(isolated_data_dir: Path) -> None:
    result = run("worker", "--help")
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "PostgreSQL only" in text and "--session ID" in text and "exit 130" in text
    assert not isolated_data_dir.exists()
