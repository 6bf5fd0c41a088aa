"""Bad input around the data dir: a file where the dir should be, a missing parent, read-only
places. Each is one line on stderr, exit 2, nothing created and nothing changed."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from .conftest import assert_clean_stderr, cli

AS_ROOT = os.geteuid() == 0
ROOT_REASON = (
    "running as root: file permissions are not enforced, so a read-only dir or database cannot "
    "be simulated (no chattr; a child cannot drop to another uid because the venv's python lives "
    "under /root)"
)


def _snapshot(root: Path) -> dict[str, tuple[str, int, int]]:
    """Every path under root -> (sha256 or 'dir', mtime_ns, mode)."""
    out: dict[str, tuple[str, int, int]] = {}
    for path in [root, *root.rglob("*")]:
        st = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        out[str(path.relative_to(root))] = (digest, st.st_mtime_ns, st.st_mode)
    return out


def _one_line_exit_2(result_stderr: str, returncode: int) -> str:
    assert returncode == 2, result_stderr
    assert_clean_stderr(result_stderr)
    lines = result_stderr.strip().splitlines()
    assert len(lines) == 1, result_stderr
    return lines[0]


COMMANDS = [
    ("crawl", "http://127.0.0.1:9/", "--headless"),
    ("sessions",),
    ("resume", "abc", "--headless"),
    ("export", "abc"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: a[0])
def test_data_dir_is_a_file(tmp_path: Path, args: tuple[str, ...]) -> None:
    target = tmp_path / "notadir"
    target.write_bytes(b"precious")
    before = _snapshot(tmp_path)
    result = cli(target, *args)
    line = _one_line_exit_2(result.stderr, result.returncode)
    assert str(target) in line and "not a directory" in line
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: a[0])
def test_data_dir_parent_missing(tmp_path: Path, args: tuple[str, ...]) -> None:
    target = tmp_path / "no" / "such" / "parent" / "data"
    before = _snapshot(tmp_path)
    result = cli(target, *args)
    line = _one_line_exit_2(result.stderr, result.returncode)
    assert "does not exist" in line, line
    assert _snapshot(tmp_path) == before
    assert not (tmp_path / "no").exists()


@pytest.mark.skipif(AS_ROOT, reason=ROOT_REASON)
def test_read_only_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "ro"
    data.mkdir()
    data.chmod(0o500)
    try:
        before = _snapshot(data)
        result = cli(data, "crawl", "http://127.0.0.1:9/", "--headless")
        _one_line_exit_2(result.stderr, result.returncode)
        assert _snapshot(data) == before
    finally:
        data.chmod(0o700)


@pytest.mark.skipif(AS_ROOT, reason=ROOT_REASON)
def test_read_only_database(tmp_path: Path) -> None:
    data = tmp_path / "d"
    made = cli(data, "crawl", "http://127.0.0.1:9/", "--headless", "--retries", "0")
    assert made.returncode in (0, 1), made.stderr
    for path in [data, *data.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        path.chmod(mode & ~0o222)
    try:
        before = _snapshot(data)
        result = cli(data, "crawl", "http://127.0.0.1:9/", "--headless")
        _one_line_exit_2(result.stderr, result.returncode)
        # Reading still works from a read-only database.
        listed = cli(data, "sessions", "--json")
        assert listed.returncode == 0, listed.stderr
        assert _snapshot(data) == before
    finally:
        for path in [data, *data.rglob("*")]:
            path.chmod(stat.S_IMODE(path.stat().st_mode) | 0o200)
