"""Commands that only look (`sessions`, `show`, `export`) write nothing, not even a reaping, and
the parser's defaults are CrawlConfig's own. The real CLI in a child process, real SQLite files,
a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine.site import SiteServer, generated_site

from tui_scraper.domain.config import CrawlConfig
from tui_scraper.formatting import human_bytes, human_duration

from .conftest import assert_clean_stderr, cli, only_session, popen_cli


@pytest.fixture(scope="module")
def site() -> Iterator[SiteServer]:
    server = SiteServer(generated_site(12, filler=2)).start()
    yield server
    server.stop()


def _bytes_of(data_dir: Path) -> dict[str, str]:
    """Every file under the data dir -> sha256, but the -shm index: SQLite's shared memory,
    where even a reader takes its read mark, and which holds no data of its own."""
    return {
        str(p.relative_to(data_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(data_dir.rglob("*"))
        if p.is_file() and not p.name.endswith("-shm")
    }


def _orphan(site: SiteServer, data_dir: Path) -> str:
    """A session left `running` by a crawl killed with SIGKILL: an orphan for the next writer."""
    proc = popen_cli(data_dir, "crawl", site.base + "/", "--headless", "--rate", "0.5")
    assert proc.stdout is not None
    session_id = proc.stdout.readline().strip()  # printed once the session is running
    deadline = time.monotonic() + 30
    while only_session(data_dir)[1] != "running":
        assert time.monotonic() < deadline, "the crawl never became running"
        time.sleep(0.05)  # a poll interval, not a wait for something to happen
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert only_session(data_dir)[:2] == (session_id, "running")
    return session_id


def test_looking_at_an_orphan_changes_no_byte(site: SiteServer, tmp_path: Path) -> None:
    data = tmp_path / "d"
    session_id = _orphan(site, data)
    before = _bytes_of(data)
    assert "scraper.db" in before
    looks = [
        ("sessions",),
        ("sessions", "--json"),
        ("show", session_id[:8]),
        ("show", session_id, "--json"),
        ("export", session_id[:8]),
        ("export", session_id[:8], "--format", "csv", "-o", str(tmp_path / "out.csv")),
    ]
    results = {args: cli(data, *args) for args in looks}
    for args, result in results.items():
        assert result.returncode == 0, (args, result.stderr)
        assert_clean_stderr(result.stderr)
    assert _bytes_of(data) == before  # no reaping, no temp-blob collection, no checkpoint
    assert only_session(data)[1] == "running"  # the row is still the next writer's to reap
    # ...but what a reader shows is the truth: its owner is gone, so it is interrupted.
    listed = json.loads(results[("sessions", "--json")].stdout)
    assert [(s["id"], s["status"]) for s in listed] == [(session_id, "interrupted")]
    shown = json.loads(results[("show", session_id, "--json")].stdout)
    assert shown["status"] == "interrupted" and "gone" in shown["error"], shown
    # `show` formats its figures with the app's formatter.
    progress = shown["progress"]
    shown = f"{human_bytes(progress['bytes'])}, {human_duration(progress['elapsed_s'])}"
    assert shown in results[("show", session_id[:8])].stdout

    # The next command that may write reaps it, as before.
    cli(data, "dismiss", session_id[:8])
    assert only_session(data)[1] == "interrupted"


# The crawl options whose default is a CrawlConfig field, by option.
OPTION_FIELDS = {
    "--max-pages": "max_pages",
    "--max-depth": "max_depth",
    "--concurrency": "concurrency",
    "--per-host": "per_host_concurrency",
    "--rate": "rate_per_host",
    "--scope": "scope",
    "--retries": "retries",
    "--timeout": "request_timeout",
    "--max-body": "max_body_bytes",
    "--max-per-pattern": "trap_max_per_pattern",
    "--max-param-values": "trap_max_param_values",
    "--user-agent": "user_agent",
}


def _help_blocks(text: str) -> dict[str, str]:
    """Option -> its whole help entry (joined lines) in argparse's listing."""
    blocks: dict[str, str] = {}
    current: str | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if line.startswith("  -") and not line.startswith("   "):
            current = stripped.split()[0].rstrip(",")
            if current == "-o":
                current = stripped.split()[2]
            blocks[current] = stripped
        elif current is not None and line.startswith("   ") and stripped:
            blocks[current] += " " + stripped
        else:
            current = None
    return blocks


def test_help_defaults_are_crawl_configs(tmp_path: Path) -> None:
    shown = cli(tmp_path / "d", "crawl", "--help", env={"COLUMNS": "200"})
    assert shown.returncode == 0, shown.stderr
    blocks = _help_blocks(shown.stdout)
    defaults = CrawlConfig(target_url="http://127.0.0.1/")
    for option, name in OPTION_FIELDS.items():
        value = getattr(defaults, name)
        expected = "no limit" if value is None else str(value)
        assert f"(default: {expected})" in blocks[option], (option, blocks[option])
    assert not (tmp_path / "d").exists()


def test_parsed_defaults_are_crawl_configs() -> None:
    from tui_scraper.cli import build_parser, config_from_args

    args = build_parser().parse_args(["crawl", "http://127.0.0.1/"])
    assert config_from_args(args) == CrawlConfig(target_url="http://127.0.0.1/")


def test_python_m_runs_the_package_main(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tui_scraper", "--data-dir", str(tmp_path / "d"), "sessions"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert "no sessions yet" in result.stdout
    assert not (tmp_path / "d").exists()
