"""`queue URL` and the queue's edits with the real CLI (no service running): places, moves,
removal, the same checks as `crawl`, and the systemd user unit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.worker.helpers import RUN_CLI

from .helpers import cli, queue, status


def _order(data_dir: Path) -> list[str]:
    listed = json.loads(cli(data_dir, "queue", "--list", "--json").stdout)
    return [row["id"] for row in listed if row["place"] is not None]


def test_queue_places_moves_and_removal(data_dir: Path) -> None:
    a, b, c = (queue(data_dir, f"http://127.0.0.1:9/{n}") for n in "abc")
    assert _order(data_dir) == [a, b, c]
    moved = cli(data_dir, "queue", "--up", c[:8])
    assert moved.returncode == 0 and "now at place 2" in moved.stdout
    assert _order(data_dir) == [a, c, b]
    assert cli(data_dir, "queue", "--down", a[:8]).returncode == 0
    assert _order(data_dir) == [c, a, b]
    removed = cli(data_dir, "queue", "--remove", a[:8])
    assert removed.returncode == 0 and "kept" in removed.stdout
    assert _order(data_dir) == [c, b]
    assert status(data_dir, a) == "pending"  # kept, resumable by hand
    again = cli(data_dir, "queue", "--remove", a[:8])
    assert again.returncode == 2 and "not in the queue" in again.stderr
    text = cli(data_dir, "sessions").stdout
    assert "queued #1" in text and "queued #2" in text
    listed = cli(data_dir, "queue", "--list").stdout.splitlines()
    assert listed[1].split()[:2] == ["1", c[:8]]


def test_queue_checks_options_like_crawl_and_creates_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "new"
    for args in (
        ["queue", "ftp://x/"],
        ["queue", "http://127.0.0.1:9/", "--max-pages", "-1"],
        ["queue", "http://127.0.0.1:9/", "--extract", "bad"],
        ["queue", "http://127.0.0.1:9/", "--list"],
        ["queue", "--up", "not-hex"],
    ):
        result = cli(data_dir, *args)
        assert result.returncode == 2, args
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, args
    assert not data_dir.exists()


def test_an_empty_queue_says_how_to_add(data_dir: Path) -> None:
    assert "the queue is empty" in cli(data_dir, "queue").stdout


def test_install_unit_writes_a_user_unit_and_enables_nothing(tmp_path: Path) -> None:
    config_home = tmp_path / "config"
    data_dir = tmp_path / "d"
    result = subprocess.run(
        [
            sys.executable,
            str(RUN_CLI),
            "--data-dir",
            str(data_dir),
            "service",
            "install-unit",
            "--parallel",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "XDG_CONFIG_HOME": str(config_home)},
    )
    assert result.returncode == 0, result.stderr
    unit = config_home / "systemd" / "user" / "tui-scraper.service"
    assert str(unit) in result.stdout and "nothing enabled" in result.stdout
    text = unit.read_text()
    assert "tui_scraper.runtime.daemon" in text and "--parallel 2" in text
    assert f"--data-dir {data_dir.absolute()}" in text
    assert "KillMode=process" in text
    # Nothing else: no wants/ symlink (enabling is the user's `systemctl --user enable`).
    assert sorted(p.name for p in unit.parent.iterdir()) == ["tui-scraper.service"]
    assert unit.stat().st_mode & 0o077 == 0


def test_listings_create_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "new"
    for args in (["queue", "--list"], ["schedule", "list"], ["service", "status"]):
        result = cli(data_dir, *args)
        assert result.returncode in (0, 3), (args, result.stderr)
    assert not data_dir.exists()
