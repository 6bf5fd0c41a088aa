"""The real service process and the real CLI: the queue run one after the other or together,
start/status/stop, and a kill of the service that starts nothing twice."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from tests.engine.site import SiteServer
from tui_scraper.runtime.daemon.files import running_service

from .helpers import (
    cli,
    queue,
    running_transitions,
    service_log,
    service_pid,
    session,
    status,
    wait_for,
)

# Slow enough that two crawls visibly overlap or not: 12 pages at 6 requests/s is about 2 s.
SLOW = ("--max-pages", "12", "--rate", "6")


def _completed(data_dir: Path, *ids: str) -> bool:
    return all(status(data_dir, i) in ("completed", "failed") for i in ids)


def test_a_queue_of_two_with_parallel_1_runs_one_after_the_other(
    data_dir: Path, site: SiteServer
) -> None:
    first = queue(data_dir, f"{site.base}/", *SLOW)
    second = queue(data_dir, f"{site.base}/", *SLOW)
    listed = {s["id"]: s for s in json.loads(cli(data_dir, "sessions", "--json").stdout)}
    assert (listed[first]["queue_place"], listed[second]["queue_place"]) == (1, 2)
    started = cli(data_dir, "service", "start", "--parallel", "1")
    assert started.returncode == 0, started.stderr
    assert "service started" in started.stdout
    wait_for(lambda: _completed(data_dir, first, second), timeout=90, what="both crawled")
    a, b = session(data_dir, first), session(data_dir, second)
    assert a["status"] == b["status"] == "completed"
    assert b["start_time"] >= a["end_time"], "the second started after the first ended"
    assert running_transitions(data_dir, first) == running_transitions(data_dir, second) == 1
    # Done sessions leave the queue.
    wait_for(lambda: "queue: 0 waiting" in cli(data_dir, "service", "status").stdout, timeout=10)
    stopped = cli(data_dir, "service", "stop")
    assert stopped.returncode == 0 and "service stopped" in stopped.stdout
    assert running_service(data_dir) is None
    assert cli(data_dir, "service", "status").returncode == 3


def test_parallel_2_runs_them_together(data_dir: Path, site: SiteServer) -> None:
    first = queue(data_dir, f"{site.base}/", *SLOW)
    second = queue(data_dir, f"{site.base}/", *SLOW)
    assert cli(data_dir, "service", "start", "--parallel", "2").returncode == 0
    wait_for(lambda: _completed(data_dir, first, second), timeout=90, what="both crawled")
    a, b = session(data_dir, first), session(data_dir, second)
    assert a["status"] == b["status"] == "completed"
    assert b["start_time"] < a["end_time"] and a["start_time"] < b["end_time"], "they overlap"


def test_one_service_per_data_dir_and_status(data_dir: Path, site: SiteServer) -> None:
    assert cli(data_dir, "service", "status").returncode == 3
    assert cli(data_dir, "service", "stop").stdout.startswith("the service is not running")
    assert cli(data_dir, "service", "start", "--parallel", "2").returncode == 0
    pid = service_pid(data_dir)
    again = cli(data_dir, "service", "start")
    assert again.returncode == 0
    assert f"already running (pid {pid}, at most 2 at a time)" in again.stdout
    assert service_pid(data_dir) == pid
    shown = cli(data_dir, "service", "status", "--json")
    assert shown.returncode == 0
    record = json.loads(shown.stdout)
    assert (record["running"], record["pid"], record["parallel"]) == (True, pid, 2)
    text = cli(data_dir, "service", "status")
    assert text.returncode == 0 and f"running (pid {pid}" in text.stdout
    assert cli(data_dir, "service", "stop").returncode == 0
    wait_for(lambda: not _alive(pid), timeout=10, what="the service process exits")


def test_bad_parallel_is_refused_and_creates_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "new"
    result = cli(data_dir, "service", "start", "--parallel", "0")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--parallel" in result.stderr
    assert not data_dir.exists()


def test_service_sigkilled_mid_run_then_started_again_starts_nothing_twice(
    data_dir: Path, site: SiteServer
) -> None:
    first = queue(data_dir, f"{site.base}/", "--max-pages", "30", "--rate", "6")
    second = queue(data_dir, f"{site.base}/", *SLOW)
    assert cli(data_dir, "service", "start", "--parallel", "1").returncode == 0
    wait_for(lambda: status(data_dir, first) == "running", timeout=30, what="first runs")
    os.kill(service_pid(data_dir), signal.SIGKILL)
    wait_for(lambda: running_service(data_dir) is None, timeout=10, what="the service is gone")
    # Its worker is a process of its own: the crawl goes on without the service.
    assert status(data_dir, first) == "running"
    assert cli(data_dir, "service", "start", "--parallel", "1").returncode == 0
    wait_for(lambda: _completed(data_dir, first, second), timeout=120, what="both crawled")
    assert status(data_dir, first) == status(data_dir, second) == "completed"
    # One worker each, and the second only after the first ended (the restarted service
    # counted the running one against --parallel 1).
    assert running_transitions(data_dir, first) == running_transitions(data_dir, second) == 1
    assert session(data_dir, second)["start_time"] >= session(data_dir, first)["end_time"]
    assert "cannot start" not in service_log(data_dir)


def test_a_worker_killed_with_the_service_leaves_its_session_resumable(
    data_dir: Path, site: SiteServer
) -> None:
    from tests.worker.helpers import kill_session, worker_pid

    first = queue(data_dir, f"{site.base}/", "--max-pages", "30", "--rate", "6")
    second = queue(data_dir, f"{site.base}/", *SLOW)
    assert cli(data_dir, "service", "start", "--parallel", "1").returncode == 0
    wait_for(lambda: status(data_dir, first) == "running", timeout=30, what="first runs")
    os.kill(service_pid(data_dir), signal.SIGKILL)
    kill_session(worker_pid(data_dir, first))
    wait_for(lambda: running_service(data_dir) is None, timeout=10, what="the service is gone")
    assert cli(data_dir, "service", "start", "--parallel", "1").returncode == 0
    wait_for(lambda: _completed(data_dir, second), timeout=90, what="the second crawled")
    # The interrupted one is left to the user, resumable, never started again by the service.
    assert status(data_dir, first) == "interrupted"
    assert running_transitions(data_dir, first) == 1
    resumed = cli(data_dir, "resume", first[:8], "--headless", timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert status(data_dir, first) == "completed"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_service_that_cannot_open_its_store_is_one_line_exit_1(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.worker.helpers import RUN_CLI
    from tui_scraper.domain.location import DB_ENV_VAR

    data_dir = tmp_path / "d"
    result = subprocess.run(
        [sys.executable, str(RUN_CLI), "--data-dir", str(data_dir), "service", "start"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, DB_ENV_VAR: "postgresql://nobody:secret@127.0.0.1:1/none"},
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and "the service stopped at once" in result.stderr
    assert "secret" not in result.stderr and "Traceback" not in result.stderr
    assert running_service(data_dir) is None


def test_service_start_on_a_new_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    try:
        started = cli(data_dir, "service", "start")
        assert started.returncode == 0, started.stderr
        assert running_service(data_dir) is not None
        assert cli(data_dir, "service", "stop").returncode == 0
    finally:
        from .helpers import stop_everything

        stop_everything(data_dir)
