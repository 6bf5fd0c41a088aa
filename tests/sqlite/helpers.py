"""Shared helpers of the store tests."""

from __future__ import annotations

import hashlib
import os
import sys
import textwrap
import time
from pathlib import Path

from tui_scraper.domain import CrawlConfig, LeaseOwner

REPO = Path(__file__).resolve().parents[2]


def config(url: str = "http://127.0.0.1:9/", **changes: object) -> CrawlConfig:
    return CrawlConfig(target_url=url).with_changes(**changes)


def owner(run_id: str = "run") -> LeaseOwner:
    return LeaseOwner(host="testhost", pid=os.getpid(), process_start=time.time(), run_id=run_id)


def child_script(tmp_path: Path, name: str, body: str) -> list[str]:
    """A command running `body` (dedented) in a fresh interpreter."""
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return [sys.executable, str(path)]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def fingerprint(directory: Path) -> dict[str, tuple[str, int, int]]:
    """name -> (sha256, mtime_ns, mode) of every file below `directory`."""
    result: dict[str, tuple[str, int, int]] = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            st = path.stat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            result[str(path.relative_to(directory))] = (digest, st.st_mtime_ns, st.st_mode)
    return result
