"""T05: disk full / I/O error mid-commit, end to end through the CLI.

The crawler runs with RLIMIT_FSIZE (SIGXFSZ ignored): once SQLite's WAL or a blob file would
grow past the limit, the write fails with EFBIG — to SQLite a "disk I/O error", to the blob
writer an OSError — exactly what a full disk looks like, without root. The crawl must stop with
a one-line reason and no traceback, leave the store consistent and resumable, and finish once
the limit is gone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from engine.invariants import assert_store_invariants, page_states
from engine.site import SiteServer, generated_site, page_html

from .conftest import assert_clean_stderr, cli, only_session, pages

N_PAGES = 300


@pytest.mark.parametrize("where", ["database", "blob"])
def test_disk_full_or_io_error_mid_commit(tmp_path: Path, where: str) -> None:
    site = generated_site(N_PAGES, filler=200)
    if where == "blob":
        # One page whose stored (compressed) blob is larger than the limit: random text does not
        # compress. The database stays well under the limit, so the blob write is what fails.
        noise = os.urandom(2_500_000).hex()  # 5 MB of text, about 2.5 MB compressed
        site["/p/7.html"] = page_html("Big", ["/p/8.html"]).replace("</body>", noise + "</body>")
        limit = 2_000_000
    else:
        # Above what creating the schema writes (the file and its WAL), below what the crawl's
        # checkpoints add to the WAL: the limit is met mid-crawl.
        limit = 200_000
    server = SiteServer(site).start()
    data = tmp_path / "d"
    try:
        args = ("--headless", "--concurrency", "4")
        full = cli(data, "crawl", server.base + "/", *args, env={"HARDENING_FSIZE": str(limit)})
        assert full.returncode == 1, full.stderr
        assert_clean_stderr(full.stderr)
        last = full.stderr.strip().splitlines()[-1]
        assert "disk" in last.lower() or "file too large" in last.lower(), full.stderr
        assert_store_invariants(data)
        session_id, status, error = only_session(data)
        # Resumable: a full disk is not the crawl's fault and must not end it for good. The
        # run records `interrupted` and why; had even that write failed, the session would be
        # left `running` under a dead lease, which the next start turns into `interrupted`.
        assert status in ("interrupted", "running"), (status, error)
        if status == "interrupted":
            assert error and "\n" not in error and ("disk" in error or "too large" in error)
        listed = cli(data, "sessions", "--json")
        assert listed.returncode == 0, listed.stderr
        assert [s["status"] for s in json.loads(listed.stdout)] == ["interrupted"]
        # No page was failed because of the disk: each is done or waiting in the queue.
        failed = {u: e for u, (s, e) in pages(data).items() if s == "failed"}
        assert failed == {}

        resumed = cli(data, "resume", session_id[:8], "--headless")
        assert resumed.returncode == 0, resumed.stderr
        assert_clean_stderr(resumed.stderr)
        states = page_states(data)
        expected = {server.base + ("/" if i == 0 else f"/p/{i}.html") for i in range(N_PAGES)}
        assert {u for u, s in states.items() if s == "done"} == expected
        assert only_session(data)[1] == "completed"
        assert_store_invariants(data)
    finally:
        server.stop()


def test_a_disk_full_at_the_first_start_is_the_disk_not_a_foreign_file(tmp_path: Path) -> None:
    """Creating the schema itself meets the limit: one line that says it is the disk (exit 1,
    resumable-style), never "not a tui-scraper database" (exit 2, which would send the user
    after a file that is fine)."""
    server = SiteServer(generated_site(5, filler=10)).start()
    data = tmp_path / "d"
    try:
        run = cli(data, "crawl", server.base + "/", "--headless", env={"HARDENING_FSIZE": "20000"})
    finally:
        server.stop()
    assert run.returncode == 1, run.stderr
    assert_clean_stderr(run.stderr)
    last = run.stderr.strip().splitlines()[-1].lower()
    assert "disk" in last and "not a tui-scraper database" not in last, run.stderr
