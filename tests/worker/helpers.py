"""Helpers for the worker tests: the real CLI and the real worker in child processes, the
store read directly (read-only), and waits on conditions with a bound."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.engine.invariants import connect_ro
from tui_scraper.backends.sqlite.lease import LOCKS_DIRNAME, owner_alive, read_owner
from tui_scraper.domain.config import CrawlConfig
from tui_scraper.runtime.detach import python_module_argv
from tui_scraper.runtime.worker_process import MODULE

RUN_CLI = Path(__file__).parents[1] / "hardening" / "run_cli.py"


def cli(data_dir: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RUN_CLI), "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def worker_argv(data_dir: Path, session_id: str) -> list[str]:
    return python_module_argv(MODULE, "--data-dir", str(data_dir), session_id)


def wait_for(predicate: Callable[[], bool], *, timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what or predicate}")
        time.sleep(0.05)


def session_row(data_dir: Path, session_id: str) -> dict[str, Any]:
    db = connect_ro(data_dir)
    try:
        db.row_factory = sqlite3.Row
        row = db.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
    finally:
        db.close()
    assert row is not None
    return dict(row)


def status_of(data_dir: Path, session_id: str) -> str:
    return str(session_row(data_dir, session_id)["status"])


def done_pages(data_dir: Path) -> int:
    db = connect_ro(data_dir)
    try:
        return int(db.execute("SELECT COUNT(*) FROM pages WHERE status = 'done'").fetchone()[0])
    finally:
        db.close()


def events(data_dir: Path, session_id: str) -> list[tuple[str | None, str | None, str | None]]:
    db = connect_ro(data_dir)
    try:
        return list(
            db.execute(
                "SELECT to_status, reason, who FROM session_events WHERE session_id = ? "
                "ORDER BY id",
                (session_id,),
            )
        )
    finally:
        db.close()


def lease_held(data_dir: Path, session_id: str) -> bool:
    return owner_alive(data_dir, session_id)


def worker_pid(data_dir: Path, session_id: str) -> int:
    wait_for(lambda: lease_held(data_dir, session_id), timeout=10, what="the lease is taken")
    pid = read_owner(data_dir, session_id).get("pid")
    assert isinstance(pid, int), pid
    return pid


def create_session(data_dir: Path, url: str, **config: Any) -> str:
    """A pending session, made the way the CLI makes one (no crawl started)."""
    from tui_scraper.service.local import LocalSessionService

    async def make() -> str:
        service = await LocalSessionService.open(data_dir, who="test")
        try:
            return (await service.create(CrawlConfig(target_url=url, **config))).id
        finally:
            await service.close()

    return asyncio.run(make())


def sessions_json(data_dir: Path) -> list[dict[str, Any]]:
    result = cli(data_dir, "sessions", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert isinstance(data, list)
    return data


def kill_workers(data_dir: Path) -> None:
    """SIGKILL every worker still holding a lease in `data_dir` (a failed test's leftovers)."""
    locks = data_dir / LOCKS_DIRNAME
    if not locks.is_dir():
        return
    for lock in locks.glob("*.lock"):
        session_id = lock.stem
        if owner_alive(data_dir, session_id):
            pid = read_owner(data_dir, session_id).get("pid")
            if isinstance(pid, int):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)


@contextlib.contextmanager
def cleanup_workers(data_dir: Path) -> Iterator[None]:
    try:
        yield
    finally:
        kill_workers(data_dir)


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (which may hold spaces and
    parentheses: they start after the last ")"): [state, ppid, pgrp, session, ...]."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rpartition(")")[2].split()
    except OSError:  # gone meanwhile
        return None


def session_members(session_leader: int) -> list[int]:
    """Live processes of the session `session_leader` leads (its session id), found from /proc:
    a detached worker (it called setsid), its forkserver and its parse processes. Zombies are
    left out: they hold nothing and run nothing, whoever reaps them."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is not None and fields[0] != "Z" and int(fields[3]) == session_leader:
            members.append(int(entry))
    return members


def kill_session(session_leader: int, *, timeout: float = 10.0) -> list[int]:
    """SIGKILL every process of the session, again until none is left (a forkserver could fork
    one more between the scan and its own death); returns the pids the first scan found."""
    first = session_members(session_leader)
    deadline = time.monotonic() + timeout
    members = first
    while members:
        for pid in members:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() > deadline:
            raise AssertionError(f"processes of session {session_leader} survive: {members}")
        time.sleep(0.01)
        members = session_members(session_leader)
    return first
