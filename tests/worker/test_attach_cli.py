"""`tui-scraper attach ID` on the command line (the real CLI in a child process): its help, and
what it refuses, as one line and exit 2, before the app starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.engine.site import SiteServer

from .helpers import RUN_CLI, cli, lease_held, status_of, wait_for


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_help_explains_attach(data_dir: Path) -> None:
    result = cli(data_dir, "attach", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "live screen of a session that runs in a background worker" in text
    assert "Several terminals may attach to one crawl at once" in text
    assert "reconnecting in N s" in text and "not running is refused (exit 2)" in text
    assert "    attach" in cli(data_dir, "--help").stdout


def test_attach_of_a_finished_session_says_what_to_do(data_dir: Path, site: SiteServer) -> None:
    done = cli(data_dir, "crawl", f"{site.base}/", "--headless")
    assert done.returncode == 0, done.stderr
    session_id = done.stdout.strip()
    line = _one_line(cli(data_dir, "attach", session_id[:8]))
    assert line == (
        f"tui-scraper: session {session_id[:8]} is completed, not running; "
        f"see tui-scraper show {session_id[:8]} --data-dir {data_dir}"
    )


def test_attach_of_an_unknown_or_malformed_id_is_one_line(data_dir: Path) -> None:
    assert cli(data_dir, "sessions").returncode == 0
    assert "abcdef12" in _one_line(cli(data_dir, "attach", "abcdef12"))
    assert "not a session id" in _one_line(cli(data_dir, "attach", "zz[/]"))


def test_attach_needs_a_terminal_and_leaves_the_worker_running(
    data_dir: Path, site: SiteServer
) -> None:
    started = cli(data_dir, "crawl", f"{site.base}/", "--rate", "5", "--detach")
    assert started.returncode == 0, started.stderr
    session_id = started.stdout.strip()
    line = _one_line(cli(data_dir, "attach", session_id))  # stdin is /dev/null here
    assert "needs a terminal" in line
    assert lease_held(data_dir, session_id) and status_of(data_dir, session_id) == "running"
    paused = cli(data_dir, "pause", session_id)
    assert paused.returncode == 0, paused.stderr
    wait_for(lambda: status_of(data_dir, session_id) == "paused", timeout=30)
    line = _one_line(cli(data_dir, "attach", session_id))
    assert line.startswith(
        f"tui-scraper: session {session_id[:8]} is paused, not running; resume it with"
    )


def test_attach_to_a_crawl_without_a_live_channel_is_refused(
    data_dir: Path, site: SiteServer
) -> None:
    """A headless crawl serves its channel like a worker, unless it cannot (here a file is in
    the way of run/): it crawls on, and attach says there is no channel to follow."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "run").write_text("not a directory\n")
    argv = [sys.executable, str(RUN_CLI), "--data-dir", str(data_dir), "crawl"]
    crawl = subprocess.Popen(
        [*argv, f"{site.base}/", "--rate", "5", "--headless"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert crawl.stdout is not None
        session_id = crawl.stdout.readline().strip()
        wait_for(lambda: lease_held(data_dir, session_id), timeout=30)
        line = _one_line(cli(data_dir, "attach", session_id))
        assert f"runs in process {crawl.pid}, which serves no live channel" in line
    finally:
        crawl.terminate()
        crawl.wait(timeout=30)
