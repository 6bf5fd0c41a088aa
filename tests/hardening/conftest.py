"""Helpers for the end-to-end hardening tests: the real CLI in a child process, local servers.

Every test here talks only to servers it starts on 127.0.0.1 / 127.0.0.2 and stops afterwards.
The CLI runs through `run_cli.py` (same `main()` as `python -m tui_scraper`) so a test can add a
file-size limit or read the child's peak RSS.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from engine.invariants import connect_ro

RUN_CLI = Path(__file__).with_name("run_cli.py")


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra or {})
    return env


def cli(
    data_dir: Path, *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RUN_CLI), "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(env),
        stdin=subprocess.DEVNULL,
    )


def popen_cli(
    data_dir: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(RUN_CLI), "--data-dir", str(data_dir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(env),
        stdin=subprocess.DEVNULL,
    )


def pages(data_dir: Path) -> dict[str, tuple[str, dict[str, Any] | None]]:
    """url -> (status, error_details) for every page row."""
    db = connect_ro(data_dir)
    try:
        rows = db.execute("SELECT url, status, error_details FROM pages").fetchall()
    finally:
        db.close()
    return {url: (status, json.loads(err) if err else None) for url, status, err in rows}


def only_session(data_dir: Path) -> tuple[str, str, str | None]:
    db = connect_ro(data_dir)
    try:
        rows = db.execute("SELECT id, status, error FROM sessions").fetchall()
    finally:
        db.close()
    assert len(rows) == 1, rows
    return rows[0]


def dump_db(data_dir: Path) -> str:
    db = sqlite3.connect(f"file:{data_dir / 'scraper.db'}?mode=ro", uri=True)
    try:
        return "\n".join(db.iterdump())
    finally:
        db.close()


def assert_clean_stderr(stderr: str) -> None:
    for bad in ("Traceback", "ResourceWarning", "Event loop is closed", "Task exception"):
        assert bad not in stderr, stderr
