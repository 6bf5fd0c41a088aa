"""Helpers of the service tests: the real CLI and the real service process, the store read
directly (read-only), and cleanup of every process a test started."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from tests.engine.invariants import connect_ro
from tests.worker.helpers import cli, kill_workers, wait_for
from tui_scraper.runtime.daemon.files import running_service

__all__ = ["cli", "queue", "rows", "running_transitions", "stop_everything", "wait_for"]


def queue(data_dir: Path, url: str, *options: str) -> str:
    result = cli(data_dir, "queue", url, "--json", *options)
    assert result.returncode == 0, result.stderr
    session_id = json.loads(result.stdout)["id"]
    assert isinstance(session_id, str)
    return session_id


def rows(data_dir: Path, sql: str, *params: object) -> list[dict[str, Any]]:
    if not (data_dir / "scraper.db").exists():
        return []
    db = connect_ro(data_dir)
    try:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(sql, params)]
    finally:
        db.close()


def session(data_dir: Path, session_id: str) -> dict[str, Any]:
    found = rows(data_dir, "SELECT * FROM sessions WHERE id = ?", session_id)
    assert found, session_id
    return found[0]


def status(data_dir: Path, session_id: str) -> str:
    return str(session(data_dir, session_id)["status"])


def running_transitions(data_dir: Path, session_id: str) -> int:
    """How many times the session moved to running: one per worker that ran it."""
    found = rows(
        data_dir,
        "SELECT COUNT(*) AS n FROM session_events WHERE session_id = ? AND to_status = 'running'",
        session_id,
    )
    return int(found[0]["n"])


def service_pid(data_dir: Path) -> int:
    info = running_service(data_dir)
    assert info is not None and info.pid > 0, "the service runs"
    return info.pid


def stop_everything(data_dir: Path) -> None:
    """SIGKILL the service and every worker still holding a lease (a test's leftovers)."""
    info = running_service(data_dir)
    if info is not None and info.pid > 0:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(info.pid, signal.SIGKILL)
    kill_workers(data_dir)


def service_log(data_dir: Path) -> str:
    try:
        return (data_dir / "logs" / "service.log").read_text()
    except OSError:
        return ""


def run(args: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, **kw)
