"""The worker process on its own (`python -P -m tui_scraper.runtime.worker_main`): exit codes,
orderly stop on a signal with its final checkpoint, the log lines, the socket removed at exit,
and parse processes that import the parser, not the worker's runtime."""

from __future__ import annotations

import json
import os
import pstats
import signal
import subprocess
from pathlib import Path

import pytest

from tests.engine.site import SiteServer
from tui_scraper.runtime.channel.paths import socket_path
from tui_scraper.runtime.detach import log_path_for, spawn_detached

from .helpers import (
    create_session,
    done_pages,
    events,
    session_row,
    status_of,
    wait_for,
    worker_argv,
)


def _spawn(data_dir: Path, session_id: str) -> subprocess.Popen[bytes]:
    return spawn_detached(
        worker_argv(data_dir, session_id), log_path=log_path_for(data_dir, session_id)
    )


def test_a_completed_crawl_exits_0_and_logs_start_and_stop(
    data_dir: Path, site: SiteServer
) -> None:
    session_id = create_session(data_dir, f"{site.base}/")
    worker = _spawn(data_dir, session_id)
    assert worker.wait(60) == 0
    assert status_of(data_dir, session_id) == "completed"
    log = log_path_for(data_dir, session_id).read_text()
    assert f"started session {session_id}" in log
    assert "stopped: completed" in log
    assert not socket_path(data_dir, session_id).exists()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_interrupts_with_a_final_checkpoint(
    data_dir: Path, site: SiteServer, signum: signal.Signals
) -> None:
    session_id = create_session(data_dir, f"{site.base}/", rate_per_host=10.0)
    worker = _spawn(data_dir, session_id)
    wait_for(lambda: socket_path(data_dir, session_id).exists(), timeout=30)
    wait_for(lambda: done_pages(data_dir) >= 5, timeout=30)
    worker.send_signal(signum)
    assert worker.wait(30) == 130
    row = session_row(data_dir, session_id)
    assert row["status"] == "interrupted"
    # The final checkpoint: the stored progress counts every page stored as done.
    assert json.loads(row["progress"])["done"] == done_pages(data_dir)
    name = signum.name
    assert (
        "interrupted",
        f"signal {name}",
        "signal",
    ) in events(data_dir, session_id)
    log = log_path_for(data_dir, session_id).read_text()
    assert f"got {name}" in log and f"stopped: interrupted (signal {name})" in log
    assert not socket_path(data_dir, session_id).exists()


def test_bad_arguments_and_a_final_session_are_refused_in_one_line(
    data_dir: Path, site: SiteServer
) -> None:
    bad = subprocess.run(
        worker_argv(data_dir, "not-an-id"), capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr
    session_id = create_session(data_dir, f"{site.base}/")
    assert _spawn(data_dir, session_id).wait(60) == 0
    again = subprocess.run(
        worker_argv(data_dir, session_id), capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 2
    assert len(again.stdout.strip().splitlines()) == 1 and "refused" in again.stdout


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    stat = handle.read()
            except OSError:  # gone meanwhile
                continue
            # The command name is in parentheses and may hold spaces: fields start after ")".
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry))
    return found


def _is_forkserver(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return b"multiprocessing.forkserver" in handle.read()
    except OSError:
        return False


def _mapped_files(pid: int) -> set[str]:
    with open(f"/proc/{pid}/maps") as handle:
        return {line.split()[-1] for line in handle if "/" in line}


def test_fetch_processes_do_not_import_the_worker_runtime(data_dir: Path, site: SiteServer) -> None:
    # multiprocessing's children re-import their parent's main module unless it is named
    # `*.__main__`; from the worker's runtime they would import the crawl's orchestration too,
    # which a fetch process never needs. Its one compiled module a fetch process does not load
    # is `resource` (the descriptor limits the crawl sizes its concurrency by): the probe.
    session_id = create_session(data_dir, f"{site.base}/", rate_per_host=10.0)
    worker = _spawn(data_dir, session_id)
    try:
        wait_for(lambda: done_pages(data_dir) >= 5, timeout=30)
        assert "/resource." in " ".join(_mapped_files(worker.pid))  # what the probe looks for
        servers = [pid for pid in _children(worker.pid) if _is_forkserver(pid)]
        assert servers, "no forkserver under the worker"
        fetchers = [pid for server in servers for pid in _children(server)]
        assert fetchers, "no fetch process under the forkserver"
        for pid in fetchers:
            mapped = _mapped_files(pid)
            assert any("aiohttp" in f for f in mapped)  # a fetch process: it runs the client
            loaded = sorted(f for f in mapped if "/resource." in f)
            assert loaded == [], loaded
    finally:
        worker.kill()
        worker.wait(30)


def test_the_profile_variable_leaves_the_workers_profile(
    data_dir: Path, site: SiteServer, tmp_path: Path
) -> None:
    # For benchmarks: the worker's own figures, readable by pstats once it has exited.
    session_id = create_session(data_dir, f"{site.base}/")
    env = dict(os.environ, TUI_SCRAPER_WORKER_PROFILE=str(tmp_path))
    worker = spawn_detached(
        worker_argv(data_dir, session_id), log_path=log_path_for(data_dir, session_id), env=env
    )
    assert worker.wait(60) == 0
    stats = pstats.Stats(str(tmp_path / f"worker-{worker.pid}.prof"))
    assert any(name == "serve" for _file, _line, name in stats.stats)  # type: ignore[attr-defined]


@pytest.mark.parametrize("setting", ["", "0"])
def test_fetch_processes_run_on_uvloop_unless_told_not_to(
    data_dir: Path, site: SiteServer, setting: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # uvloop is a dependency: the fetch workers' loop is uvloop's, and TUI_SCRAPER_UVLOOP=0 puts
    # them back on asyncio's (to compare, or to rule it out). Both crawl.
    if setting:
        monkeypatch.setenv("TUI_SCRAPER_UVLOOP", setting)
    session_id = create_session(data_dir, f"{site.base}/", rate_per_host=10.0)
    worker = _spawn(data_dir, session_id)
    try:
        wait_for(lambda: done_pages(data_dir) >= 5, timeout=30)
        servers = [pid for pid in _children(worker.pid) if _is_forkserver(pid)]
        fetchers = [pid for server in servers for pid in _children(server)]
        assert fetchers, "no fetch process under the forkserver"
        for pid in fetchers:
            on_uvloop = any("uvloop" in f and "/loop." in f for f in _mapped_files(pid))
            assert on_uvloop is (setting != "0")
    finally:
        worker.kill()
        worker.wait(30)
