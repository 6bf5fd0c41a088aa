"""The database server stopped for a few seconds and started again while three real CLI
processes crawl one PostgreSQL session (the `crawl` that started it and two `worker`s): each
waits for the server with backoff and carries on, or stops resumably; the session ends
completed (after one `resume` if it was interrupted), every page stored once, nothing lost, and
the pages fetched twice bounded by what the three had in flight and in hand."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_store.helpers import run
from tests.cli_store.test_worker_command import (
    PAGES,
    Cli,
    _check_stored_once,
    _counts,
    _first_crawl,
    _start,
    _status,
)
from tests.engine.site import SiteServer, generated_site
from tests.pg_server import PgServer
from tests.worker.helpers import wait_for
from tui_scraper.engine.batching import BATCH_SIZE

from .helpers import sql

DOWN_S = 4.0
CONCURRENCY = 8  # what _first_crawl gives the session


@pytest.fixture
def site() -> Iterator[SiteServer]:
    server = SiteServer(generated_site(PAGES, filler=3)).start()
    yield server
    server.stop()


@pytest.fixture
def spawn() -> Iterator[list[Cli]]:
    started: list[Cli] = []
    yield started
    for cli in started:
        if cli.proc.poll() is None:
            cli.proc.send_signal(signal.SIGKILL)
        cli.proc.wait(30)


def test_three_workers_outlive_a_database_outage(
    pg_server: PgServer,
    pg_url: str,
    site: SiteServer,
    tmp_path: Path,
    isolated_data_dir: Path,
    spawn: list[Cli],
) -> None:
    session_id = _first_crawl(spawn, tmp_path, pg_url, site)
    for _ in range(2):
        _start(spawn, tmp_path, "--db", pg_url, "worker", "--session", session_id)
    wait_for(
        lambda: sql(pg_url, "SELECT count(*) FROM session_workers") == [(3,)],
        timeout=60,
        what="three workers",
    )
    wait_for(
        lambda: _counts(pg_url, session_id).get("done", 0) > 200, timeout=90, what="pages done"
    )
    assert _status(pg_url, session_id) == "running"
    pg_server.outage(DOWN_S)
    codes = [cli.proc.wait(240) for cli in spawn]
    for cli in spawn:
        assert "Traceback" not in cli.stderr(), cli.stderr()
    # 0: it waited the outage out and its part ended; 1 (the crawl only): it stopped resumably.
    assert codes[0] in (0, 1) and codes[1:] == [0, 0], (codes, [c.stderr() for c in spawn])
    status = _status(pg_url, session_id)
    if status != "completed":
        assert status == "interrupted", status
        resumed = run("--db", pg_url, "resume", session_id, "--headless", timeout=240)
        assert resumed.returncode == 0, resumed.stderr
    hits = _check_stored_once(pg_url, session_id, site)
    refetched = sum(n - 1 for n in hits.values())
    assert refetched <= 3 * (CONCURRENCY + 2 * BATCH_SIZE), refetched
