"""What the command line says about background workers, and what it refuses before creating
anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import cli


@pytest.mark.parametrize("command", ["crawl", "resume"])
def test_help_explains_detach(data_dir: Path, command: str) -> None:
    result = cli(data_dir, command, "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "--detach" in text and "background worker process" in text
    assert "outlives this terminal" in text and "logs/<id>.log" in text


@pytest.mark.parametrize("command", ["pause", "cancel"])
def test_help_explains_how_a_command_reaches_the_worker(data_dir: Path, command: str) -> None:
    result = cli(data_dir, command, "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "live channel" in text and "recorded in the data dir" in text
    assert "not running is refused (exit 2)" in text
    listed = cli(data_dir, "--help").stdout
    assert f"    {command}" in listed


def test_a_data_dir_too_long_for_the_socket_is_refused_before_anything_is_made(
    tmp_path: Path,
) -> None:
    deep = tmp_path / ("x" * 90)
    deep.mkdir()
    result = cli(deep, "crawl", "http://127.0.0.1:9/", "--detach")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "too long for a background worker's socket" in lines[0]
    assert list(deep.iterdir()) == []


def test_pause_of_an_unknown_session_is_one_line(data_dir: Path) -> None:
    assert cli(data_dir, "sessions").returncode == 0
    result = cli(data_dir, "pause", "abcdef12")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
