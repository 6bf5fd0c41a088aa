"""The service on PostgreSQL: the queue and a schedule kept in the database, the service's own
files in the local data dir, the URL passed by the environment (never argv)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.engine.site import SiteServer
from tests.worker.helpers import RUN_CLI
from tui_scraper.domain.location import DB_ENV_VAR
from tui_scraper.runtime.daemon.files import running_service

from .helpers import wait_for


def _cli(data_dir: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RUN_CLI), "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={**os.environ, DB_ENV_VAR: url},
    )


def _sessions(data_dir: Path, url: str) -> dict[str, dict[str, Any]]:
    result = _cli(data_dir, url, "sessions", "--json")
    assert result.returncode == 0, result.stderr
    return {s["id"]: s for s in json.loads(result.stdout)}


def test_the_queue_and_a_schedule_run_on_postgresql(
    data_dir: Path, site: SiteServer, pg_url: str
) -> None:
    ids = []
    for _ in range(2):
        added = _cli(
            data_dir, pg_url, "queue", f"{site.base}/", "--json", "--max-pages", "8", "--rate", "6"
        )
        assert added.returncode == 0, added.stderr
        ids.append(json.loads(added.stdout)["id"])
    assert [_sessions(data_dir, pg_url)[i]["queue_place"] for i in ids] == [1, 2]
    scheduled = _cli(
        data_dir,
        pg_url,
        "schedule",
        "add",
        f"{site.base}/p1",
        "--every",
        "2s",
        "--json",
        "--max-pages",
        "1",
    )
    assert scheduled.returncode == 0, scheduled.stderr
    schedule_id = json.loads(scheduled.stdout)["id"]
    started = _cli(data_dir, pg_url, "service", "start", "--parallel", "1")
    assert started.returncode == 0, started.stderr
    info = running_service(data_dir)
    assert info is not None
    cmdline = Path(f"/proc/{info.pid}/cmdline").read_bytes().decode()
    assert "postgresql" not in cmdline

    def finished() -> bool:
        found = _sessions(data_dir, pg_url)
        return all(found[i]["status"] == "completed" for i in ids)

    wait_for(finished, timeout=120, what="both queued sessions completed")
    found = _sessions(data_dir, pg_url)
    a, b = found[ids[0]], found[ids[1]]
    assert b["start_time"] >= a["end_time"]

    def runs() -> list[dict[str, Any]]:
        shown = _cli(data_dir, pg_url, "schedule", "show", schedule_id[:8], "--json")
        assert shown.returncode == 0, shown.stderr
        return list(json.loads(shown.stdout)["runs"])

    wait_for(lambda: any(r["outcome"] == "started" for r in runs()), timeout=60, what="a run")
    run = next(r for r in runs() if r["outcome"] == "started")
    shown = json.loads(_cli(data_dir, pg_url, "show", run["session_id"][:8], "--json").stdout)
    assert shown["schedule_id"] == schedule_id
    assert _cli(data_dir, pg_url, "service", "stop").returncode == 0
