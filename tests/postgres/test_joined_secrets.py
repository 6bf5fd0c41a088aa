"""A session started with a secret header keeps its value in a 0600 file of the starting
machine's data dir, never in the database: a worker on a machine without it (another data dir)
is refused in one line when it names the session, and passes it over in one line when it joins
whatever runs, rather than crawl the site unauthenticated. A worker that has the file joins."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_store.helpers import one_line, run
from tests.cli_store.test_worker_command import Cli, _counts, _start
from tests.engine.site import SiteServer, generated_site
from tests.worker.helpers import wait_for

from .helpers import sql

TOKEN = "t0k3n-never-shown"


@pytest.fixture
def site() -> Iterator[SiteServer]:
    server = SiteServer(generated_site(2000, filler=3)).start()
    yield server
    server.stop()


@pytest.fixture
def spawn() -> Iterator[list[Cli]]:
    started: list[Cli] = []
    yield started
    for cli in started:
        if cli.proc.poll() is None:
            cli.proc.kill()
        cli.proc.wait(30)


def _joins(pg_url: str, session_id: str) -> int:
    rows = sql(
        pg_url,
        "SELECT count(*) FROM session_events WHERE session_id = %s AND kind = 'worker'",
        (session_id,),
    )
    return int(rows[0][0])


def test_a_worker_without_the_secret_headers_does_not_join(
    pg_url: str, site: SiteServer, tmp_path: Path, spawn: list[Cli]
) -> None:
    owner = _start(
        spawn,
        tmp_path,
        "--db",
        pg_url,
        "crawl",
        f"{site.base}/",
        "--headless",
        "--rate",
        "50",
        "--header",
        f"Authorization: Bearer {TOKEN}",
    )
    wait_for(lambda: owner.stdout().strip() != "", timeout=60, what="the session id")
    session_id = owner.stdout().split()[0]
    wait_for(lambda: _counts(pg_url, session_id).get("done", 0) > 0, timeout=60, what="pages")
    elsewhere = {"TUI_SCRAPER_DATA_DIR": str(tmp_path / "other-machine")}

    named = run("--db", pg_url, "worker", "--session", session_id[:8], env=elsewhere)
    assert named.returncode == 2, named.stderr
    line = one_line(named.stderr)
    assert "secret headers (Authorization)" in line and "not joined" in line, line
    assert TOKEN not in named.stderr + named.stdout

    scanning = run("--db", pg_url, "worker", env=elsewhere)
    assert scanning.returncode == 0, scanning.stderr
    line = one_line(scanning.stderr)
    assert session_id[:8] in line and "secret headers" in line, line
    assert TOKEN not in scanning.stderr + scanning.stdout
    assert _joins(pg_url, session_id) == 0
    assert sql(pg_url, "SELECT count(*) FROM session_workers") == [(1,)]  # the owner only

    # The same data dir (this machine): the file is there, and the worker joins.
    _start(spawn, tmp_path, "--db", pg_url, "worker", "--session", session_id)
    wait_for(lambda: _joins(pg_url, session_id) == 1, timeout=60, what="the worker joining")
