"""The real CLI in a child process, told where the store is by `--db` or TUI_SCRAPER_DB only
(no --data-dir added, unlike the other suites' helpers)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.engine.invariants import connect_ro

RUN_CLI = Path(__file__).parents[1] / "hardening" / "run_cli.py"
# Never a real credential: a word that would stand out in any output it leaked into.
PASSWORD = "s3cr3t-Pa55word"


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    """`tui-scraper ARGS` with this process's environment, `env` added (a None value unsets)."""
    child_env = dict(os.environ)
    child_env.pop("TUI_SCRAPER_DB", None)
    for key, value in (env or {}).items():
        if value is None:
            child_env.pop(key, None)
        else:
            child_env[key] = value
    return subprocess.run(
        [sys.executable, str(RUN_CLI), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_env,
        stdin=subprocess.DEVNULL,
    )


def session_ids(data_dir: Path) -> list[str]:
    """The sessions stored in `data_dir`'s SQLite database, read directly (read-only)."""
    if not (data_dir / "scraper.db").exists():
        return []
    db = connect_ro(data_dir)
    try:
        return [str(row[0]) for row in db.execute("SELECT id FROM sessions ORDER BY id")]
    finally:
        db.close()


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr, stderr
    return lines[0]


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
