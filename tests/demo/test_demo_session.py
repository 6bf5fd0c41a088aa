"""A demo session finds its site again: the real CLI in child processes, real SQLite, real ports.

The demo site lives in the process that crawls it. These tests interrupt a `demo --headless`
run (its site goes with it), then resume the session from a fresh process: the site must be
served again on the port the session recorded, every page must end as on a fresh crawl (the PDF
and the image stored too), and a port taken meanwhile must be said, not crawled.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tui_scraper.demo import PDF_PATH, PNG_PATH, expected_pages
from tui_scraper.demo.assets import pdf_bytes, png_bytes
from tui_scraper.demo.session import DEMO_DOWNLOADS, DEMO_RATE_PER_S, demo_config

CHILD_ENV = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}


def cli(data: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui_scraper", "--data-dir", str(data), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=CHILD_ENV,
        stdin=subprocess.DEVNULL,
    )


def session_json(data: Path) -> dict[str, Any]:
    (only,) = json.loads(cli(data, "sessions", "--json").stdout)
    shown = cli(data, "show", only["id"], "--json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)  # type: ignore[no-any-return]


def outcomes(data: Path) -> dict[str, str]:
    db = sqlite3.connect(f"file:{data / 'scraper.db'}?mode=ro", uri=True)
    try:
        return dict(db.execute("SELECT url, status FROM pages").fetchall())
    finally:
        db.close()


def downloads(data: Path) -> dict[str, str]:
    db = sqlite3.connect(f"file:{data / 'scraper.db'}?mode=ro", uri=True)
    try:
        return dict(db.execute("SELECT url, sha256 FROM downloaded_content").fetchall())
    finally:
        db.close()


def done_pages(data: Path) -> int:
    if not (data / "scraper.db").exists():
        return 0
    try:
        return sum(1 for status in outcomes(data).values() if status == "done")
    except sqlite3.Error:  # not created yet
        return 0


def assert_like_a_fresh_crawl(data: Path, base_url: str) -> None:
    wanted = expected_pages(base_url, download=DEMO_DOWNLOADS)
    got = outcomes(data)
    assert {u: got.get(u) for u in wanted} == wanted
    stored = downloads(data)
    import hashlib

    assert stored[base_url.rstrip("/") + PDF_PATH] == hashlib.sha256(pdf_bytes()).hexdigest()
    assert stored[base_url.rstrip("/") + PNG_PATH] == hashlib.sha256(png_bytes()).hexdigest()


def test_headless_demo_is_the_apps_demo_unpaced(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run = cli(data, "demo", "--headless")
    assert run.returncode == 0, run.stderr
    record = session_json(data)
    assert record["status"] == "completed"
    assert_like_a_fresh_crawl(data, record["target_url"])
    # What the app's demo creates (`ScraperApp._start_demo`): the same config, only paced.
    port = record["config"]["extra"]["demo_site"]["port"]
    app_config = json.loads(demo_config(port, paced=True).to_json())
    assert app_config.pop("rate_per_host") == DEMO_RATE_PER_S
    headless = dict(record["config"])
    assert headless.pop("rate_per_host") is None
    assert headless == app_config


def test_resumed_demo_session_serves_its_site_again_on_its_port(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui_scraper", "--data-dir", str(data), "demo", "--headless"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=CHILD_ENV,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while done_pages(data) == 0 and proc.poll() is None:
            assert time.monotonic() < deadline, "no page done within 60 s"
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    record = session_json(data)
    assert record["status"] == "interrupted"
    assert record["progress"]["done"] < len(expected_pages(record["target_url"])), (
        "the demo finished before the interrupt: nothing left to resume"
    )
    port = record["config"]["extra"]["demo_site"]["port"]
    assert record["target_url"] == f"http://127.0.0.1:{port}/"

    # Another program holds the port now: resuming says so, on one line, and changes nothing.
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        busy = cli(data, "resume", record["id"], "--headless", timeout=60)
    assert busy.returncode == 2, busy.stderr
    assert len(busy.stderr.strip().splitlines()) == 1, busy.stderr
    assert f"port {port}" in busy.stderr and "Traceback" not in busy.stderr
    assert session_json(data)["status"] == "interrupted"

    # The port is free again: the session's own site answers, and it ends as a fresh crawl.
    resumed = cli(data, "resume", record["id"], "--headless")
    assert resumed.returncode == 0, resumed.stderr
    final = session_json(data)
    assert final["status"] == "completed"
    assert final["progress"]["failed"] == 3  # the three broken links, nothing unreachable
    assert_like_a_fresh_crawl(data, record["target_url"])


def test_only_a_loopback_demo_site_is_ever_served() -> None:
    from tui_scraper.demo.session import DEMO_KEY, demo_address

    config = demo_config(8123, paced=False)
    assert demo_address(config) == ("127.0.0.1", 8123)
    for spec in ({"host": "0.0.0.0", "port": 8123}, {"host": "127.0.0.1", "port": 0}, "8123"):
        assert demo_address(config.with_changes(extra={DEMO_KEY: spec})) is None
    assert demo_address(config.with_changes(extra={})) is None  # any other session
