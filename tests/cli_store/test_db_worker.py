"""The detached worker inherits the store's location: the real CLI starts a real worker, the
location given only by TUI_SCRAPER_DB; a database URL reaches the worker by its environment,
never its argv, and its password never reaches the worker's log or the starter's message."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.site import SiteServer, generated_site
from tests.worker.helpers import kill_workers, wait_for
from tui_scraper.domain.location import DB_ENV_VAR, StoreLocation
from tui_scraper.runtime.detach import python_module_argv
from tui_scraper.runtime.spawn import WorkerStartFailed, start_worker, worker_env
from tui_scraper.runtime.worker_process import MODULE

from .helpers import PASSWORD, free_port, one_line, run, session_ids


@pytest.fixture
def chosen() -> Iterator[Path]:
    # Short: the worker's socket path (run/<32 hex>.sock) must fit in AF_UNIX's 107 bytes.
    parent = Path(tempfile.mkdtemp(prefix="tsdb"))
    path = parent / "d"
    yield path
    kill_workers(path)
    shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture
def site() -> Iterator[SiteServer]:
    server = SiteServer(generated_site(40, filler=3)).start()
    yield server
    server.stop()


def _status(env: dict[str, str], session_id: str) -> str:
    result = run("sessions", "--json", env=env)
    assert result.returncode == 0, result.stderr
    [record] = [r for r in json.loads(result.stdout) if r["id"] == session_id]
    return str(record["status"])


def test_crawl_detach_with_the_location_in_the_env_runs_and_completes_there(
    chosen: Path, isolated_data_dir: Path, site: SiteServer
) -> None:
    env = {DB_ENV_VAR: f"sqlite:{chosen}"}
    started = time.monotonic()
    result = run("crawl", f"{site.base}/", "--rate", "10", "--detach", env=env)
    assert result.returncode == 0, result.stderr
    session_id = result.stdout.strip().splitlines()[-1]
    assert time.monotonic() - started < 30
    assert session_ids(chosen) == [session_id]
    # 40 pages at 10/s: still running when the command has returned.
    assert _status(env, session_id) == "running"
    wait_for(lambda: _status(env, session_id) == "completed", timeout=90, what="completed")
    assert (chosen / "logs" / f"{session_id}.log").is_file()
    assert not isolated_data_dir.exists()


def test_the_worker_gets_a_database_url_by_its_environment_only(tmp_path: Path) -> None:
    url = f"postgresql://crawler:{PASSWORD}@127.0.0.1:1/crawls"
    env = worker_env(StoreLocation(tmp_path, url))
    assert env[DB_ENV_VAR] == url
    # SQLite: the data dir on argv is the whole location; a stale variable is not passed on.
    os.environ[DB_ENV_VAR] = url
    try:
        assert DB_ENV_VAR not in worker_env(StoreLocation(tmp_path))
    finally:
        del os.environ[DB_ENV_VAR]


def test_a_worker_whose_database_cannot_be_opened_says_so_without_the_password(
    chosen: Path,
) -> None:
    """The real worker process, given an unreachable PostgreSQL URL by its environment: one
    line in its log, no password; the starter's error carries that line, masked too."""
    url = f"postgresql://crawler:{PASSWORD}@127.0.0.1:{free_port()}/crawls"
    session_id = "0123456789abcdef0123456789abcdef"
    chosen.mkdir()  # as the service's store open made it before it starts a worker
    with pytest.raises(WorkerStartFailed) as failed:
        asyncio.run(start_worker(StoreLocation(chosen, url), session_id, timeout=60))
    assert PASSWORD not in str(failed.value)
    assert "the worker stopped before it was ready" in str(failed.value)
    log = (chosen / "logs" / f"{session_id}.log").read_text()
    assert PASSWORD not in log and "Traceback" not in log
    argv = python_module_argv(MODULE, "--data-dir", str(chosen), session_id)
    child = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, DB_ENV_VAR: url},
        stdin=subprocess.DEVNULL,
    )
    assert child.returncode in (1, 2)  # refused (no backend) or the database unreachable
    assert PASSWORD not in child.stdout + child.stderr
    assert one_line(child.stdout + child.stderr)
    assert url not in " ".join(argv)


def test_a_worker_refuses_a_bad_location_in_its_environment(tmp_path: Path) -> None:
    argv = python_module_argv(MODULE, "--data-dir", str(tmp_path), "0" * 32)
    child = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, DB_ENV_VAR: f"mysql://u:{PASSWORD}@h/db"},
        stdin=subprocess.DEVNULL,
    )
    assert child.returncode == 2
    assert "unknown scheme" in one_line(child.stderr) and PASSWORD not in child.stderr
    assert sys.executable in argv[0]


def test_pause_and_resume_reach_the_worker_of_the_store_the_env_names(
    chosen: Path, site: SiteServer
) -> None:
    env = {DB_ENV_VAR: f"sqlite:{chosen}"}
    started = run("crawl", f"{site.base}/", "--rate", "4", "--detach", env=env)
    assert started.returncode == 0, started.stderr
    session_id = started.stdout.strip().splitlines()[-1]
    paused = run("pause", session_id[:8], env=env)
    assert paused.returncode == 0, paused.stderr
    assert f"pause sent to session {session_id[:8]}" in paused.stdout
    wait_for(lambda: _status(env, session_id) == "paused", timeout=60, what="paused")
    resumed = run("resume", session_id[:8], "--detach", env=env)
    assert resumed.returncode == 0, resumed.stderr
    wait_for(lambda: _status(env, session_id) == "completed", timeout=120, what="completed")
    assert session_ids(chosen) == [session_id]


def test_a_library_log_line_in_the_worker_loses_the_password(tmp_path: Path) -> None:
    import logging

    from tui_scraper.runtime.worker_process import _Redacting

    url = f"postgresql://crawler:{PASSWORD}@127.0.0.1:1/crawls"
    record = logging.LogRecord(
        "psycopg.pool", logging.WARNING, __file__, 1, "error: %s", (url,), None
    )
    assert _Redacting(StoreLocation(tmp_path, url)).filter(record)
    assert PASSWORD not in record.getMessage() and "crawler:***@127.0.0.1" in record.getMessage()
