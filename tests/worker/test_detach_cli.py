"""`crawl --detach` / `resume --detach` end to end: the real CLI starts a real worker process
that crawls the tests' own site on 127.0.0.1; the tests judge by the store and the site's log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.engine.invariants import assert_store_invariants, page_states
from tests.engine.site import SiteServer
from tui_scraper.engine.batching import BATCH_SIZE
from tui_scraper.runtime.channel.paths import socket_path
from tui_scraper.runtime.detach import log_path_for

from .helpers import (
    RUN_CLI,
    cli,
    done_pages,
    events,
    lease_held,
    sessions_json,
    status_of,
    wait_for,
    worker_pid,
)

# The first start of a worker imports the whole engine; on a loaded machine that is most of it.
DETACH_BOUND_S = 3.0


def _detach(data_dir: Path, *args: str) -> tuple[str, float, subprocess.CompletedProcess[str]]:
    started = time.monotonic()
    result = cli(data_dir, *args, "--detach")
    took = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1], took, result


def test_detach_returns_at_once_and_the_worker_completes_every_page_once(
    data_dir: Path, site: SiteServer
) -> None:
    # 60 pages at 10 requests/s: the crawl takes 6 s or more, so returning within the bound
    # means the command did not wait for it.
    session_id, took, result = _detach(data_dir, "crawl", f"{site.base}/", "--rate", "10")
    assert took < DETACH_BOUND_S, took
    assert len(session_id) == 32 and "started in the background" in result.stderr
    assert status_of(data_dir, session_id) == "running"
    assert lease_held(data_dir, session_id)
    wait_for(lambda: status_of(data_dir, session_id) == "completed", timeout=60)
    wait_for(lambda: not lease_held(data_dir, session_id), timeout=10)
    assert set(page_states(data_dir).values()) == {"done"}
    assert done_pages(data_dir) == 60
    hits = site.hits()
    assert all(n == 1 for n in hits.values()), hits.most_common(3)
    assert_store_invariants(data_dir)
    wait_for(lambda: not socket_path(data_dir, session_id).exists(), timeout=5)
    log = log_path_for(data_dir, session_id).read_text()
    assert f"started session {session_id}" in log
    wait_for(lambda: "stopped: completed" in log_path_for(data_dir, session_id).read_text())


def test_detach_json_prints_the_session_record_as_show_does(
    data_dir: Path, site: SiteServer
) -> None:
    result = cli(data_dir, "crawl", f"{site.base}/", "--rate", "10", "--detach", "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    shown = json.loads(cli(data_dir, "show", record["id"], "--json").stdout)
    assert set(record) == set(shown)
    assert record["status"] == "running"
    assert record["config"]["target_url"] == f"{site.base}/"


def test_detach_and_headless_are_mutually_exclusive(data_dir: Path) -> None:
    result = cli(data_dir, "crawl", "http://127.0.0.1:9/", "--detach", "--headless")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "not allowed with" in result.stderr
    assert not (data_dir / "scraper.db").exists()


def test_sigkill_of_the_worker_reads_interrupted_at_once_and_resume_detach_completes_exactly(
    data_dir: Path, site: SiteServer
) -> None:
    session_id, _took, _ = _detach(data_dir, "crawl", f"{site.base}/", "--rate", "20")
    pid = worker_pid(data_dir, session_id)
    wait_for(lambda: done_pages(data_dir) >= 10, timeout=30)
    os.killpg(pid, signal.SIGKILL)  # the worker leads its own group: its fetch workers too
    killed_at = time.monotonic()
    wait_for(lambda: not lease_held(data_dir, session_id), timeout=5)
    listed = sessions_json(data_dir)
    # The lease is a lock that died with the process: no timeout to wait out.
    assert time.monotonic() - killed_at < 5
    assert [s["status"] for s in listed] == ["interrupted"]
    hits_before = sum(site.hits().values())

    resumed_id, took, result = _detach(data_dir, "resume", session_id[:8])
    assert resumed_id == session_id and "resumed in the background" in result.stderr
    assert took < DETACH_BOUND_S, took
    wait_for(lambda: status_of(data_dir, session_id) == "completed", timeout=60)
    assert set(page_states(data_dir).values()) == {"done"}
    assert done_pages(data_dir) == 60
    hits = site.hits()
    refetched = sum(hits.values()) - len(hits)
    concurrency = 8  # CrawlConfig's default
    assert refetched <= concurrency + 2 * BATCH_SIZE, (refetched, hits_before)
    assert_store_invariants(data_dir)


def test_a_second_worker_of_a_running_session_is_refused(data_dir: Path, site: SiteServer) -> None:
    session_id, _took, _ = _detach(data_dir, "crawl", f"{site.base}/", "--rate", "10")
    first = worker_pid(data_dir, session_id)
    from .helpers import worker_argv

    second = subprocess.run(
        worker_argv(data_dir, session_id), capture_output=True, text=True, timeout=60
    )
    assert second.returncode == 2
    lines = second.stdout.strip().splitlines()
    assert len(lines) == 1 and "refused" in lines[0], second.stdout
    # The CLI refuses too, before starting anything.
    again = cli(data_dir, "resume", session_id, "--detach")
    assert again.returncode == 2 and len(again.stderr.strip().splitlines()) == 1
    assert worker_pid(data_dir, session_id) == first
    assert status_of(data_dir, session_id) == "running"
    wait_for(lambda: status_of(data_dir, session_id) == "completed", timeout=60)


def test_the_starting_terminals_hangup_does_not_stop_the_worker(
    data_dir: Path, site: SiteServer
) -> None:
    # A shell in a process group of its own plays the terminal's session: it starts the crawl
    # and stays; then the whole group gets SIGHUP, as when the terminal closes.
    script = (
        f"{sys.executable} {RUN_CLI} --data-dir {data_dir} crawl {site.base}/ --rate 10 "
        "--detach && exec sleep 60"
    )
    shell = subprocess.Popen(
        ["sh", "-c", script], start_new_session=True, stdout=subprocess.PIPE, text=True
    )
    try:
        assert shell.stdout is not None
        session_id = shell.stdout.readline().strip()
        pid = worker_pid(data_dir, session_id)
        os.killpg(shell.pid, signal.SIGHUP)
        assert shell.wait(10) == -signal.SIGHUP
        assert os.getpgid(pid) != shell.pid
    finally:
        if shell.poll() is None:
            shell.kill()
    wait_for(lambda: status_of(data_dir, session_id) == "completed", timeout=60)
    assert all(to != "interrupted" for to, _r, _w in events(data_dir, session_id))
