"""Bad input around the data dir: a file where the dir should be, a missing parent, read-only
places. Each is one line on stderr, exit 2, nothing created and nothing changed."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import RUN_CLI, assert_clean_stderr, cli
from .namespace import run_in_mount_namespace, unshare_available

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


# T32: options the HTTP client or the crawl could never honour --------------------------------
BAD_OPTIONS = [
    ("--header", "X-Token: a\r\nInjected: yes"),
    ("--header", "X-Token: a\nb"),
    ("--header", "X-Token: caf\u00e9\u2603"),
    ("--header", "Bad Name: v"),
    ("--header", "X-Token: del\x7f"),
    ("--cookie", "sid=a\nb"),
    ("--cookie", "sid=\u2603"),
    ("--user-agent", "bot/1\r\nX-Injected: 1"),
    ("--user-agent", "bot/\u0100"),
    ("--rate", "1e-300"),
    ("--rate", "inf"),
    ("--rate", "nan"),
    ("--rate", "1e9"),
    ("--timeout", "0.001"),
    ("--timeout", "nan"),
    ("--max-pages", "0"),
    ("--max-pages", str(10**30)),
    ("--max-depth", "-1"),
    ("--concurrency", "100000"),
    ("--per-host", "1000"),
    ("--retries", "1000"),
    ("--max-body", "10"),
    ("--max-body", str(2**80)),
]


@pytest.mark.parametrize(
    ("option", "value"), BAD_OPTIONS, ids=[f"{o}={v!r}" for o, v in BAD_OPTIONS]
)
def test_unsendable_or_absurd_option_is_refused(tmp_path: Path, option: str, value: str) -> None:
    data = tmp_path / "d"
    result = cli(data, "crawl", "http://127.0.0.1:9/", "--headless", option, value)
    line = _one_line_exit_2(result.stderr, result.returncode)
    assert option.lstrip("-").split("-")[0] in line, line
    assert "\r" not in line and "\x00" not in line
    assert not data.exists()


def test_bounds_live_in_the_config_for_the_ui_form_too() -> None:
    from tui_scraper.domain.config import CrawlConfig
    from tui_scraper.domain.errors import ConfigError

    base = CrawlConfig(target_url="http://127.0.0.1:9/")
    base.validate()
    for changes in (
        {"rate_per_host": 1e-300},
        {"request_timeout": float("inf")},
        {"max_body_bytes": 1},
        {"user_agent": "a\r\nb"},
        {"retries": 10**6},
    ):
        with pytest.raises(ConfigError):
            base.with_changes(**changes).validate()


def test_header_file_and_env_are_checked_the_same_way(tmp_path: Path) -> None:
    data = tmp_path / "d"
    bad = tmp_path / "headers"
    bad.write_bytes(b"# comment\nAuthorization: Bearer x\nX-Evil: a\x0bb\n")
    result = cli(data, "crawl", "http://127.0.0.1:9/", "--headless", "--header-file", str(bad))
    assert "--header-file" in _one_line_exit_2(result.stderr, result.returncode)
    missing = cli(data, "crawl", "http://127.0.0.1:9/", "--headless", "--header-file", "/no/x")
    assert "No such file" in _one_line_exit_2(missing.stderr, missing.returncode)
    unset = cli(data, "crawl", "http://127.0.0.1:9/", "--headless", "--header-env", "NO_SUCH_VAR_X")
    assert "not set" in _one_line_exit_2(unset.stderr, unset.returncode)
    env = cli(
        data,
        "crawl",
        "http://127.0.0.1:9/",
        "--headless",
        "--header-env",
        "HDRS",
        env={"HDRS": "X-Ok: 1\nX-Bad: \u2603"},
    )
    assert "X-Bad" in _one_line_exit_2(env.stderr, env.returncode)
    assert not data.exists()


# T33: every way a data dir or an argument can be wrong is one line ---------------------------
def test_data_dir_cannot_be_created_under_proc(tmp_path: Path) -> None:
    for args in (("sessions",), ("crawl", "http://127.0.0.1:9/", "--headless")):
        result = cli(Path("/proc/tui-scraper-test"), *args)
        line = _one_line_exit_2(result.stderr, result.returncode)
        assert "/proc/tui-scraper-test" in line, line
    assert not Path("/proc/tui-scraper-test").exists()


def test_empty_data_dir_is_refused_and_nothing_created(tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"  # where the default dir would go: must stay untouched
    env = {"XDG_DATA_HOME": str(xdg)}
    for argv in (["--data-dir", "", "sessions"], ["sessions", "--data-dir", "  "]):
        result = subprocess.run(
            [sys.executable, str(RUN_CLI), *argv],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **env},
        )
        assert "--data-dir is empty" in _one_line_exit_2(result.stderr, result.returncode)
    result = subprocess.run(
        [sys.executable, str(RUN_CLI), "sessions"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env, "TUI_SCRAPER_DATA_DIR": ""},
    )
    assert "TUI_SCRAPER_DATA_DIR" in _one_line_exit_2(result.stderr, result.returncode)
    assert not xdg.exists()


def test_home_unset_names_the_dir_it_uses(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("HOME", "TUI_SCRAPER_DATA_DIR")}
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")  # keeps the real user data dir out of it
    result = subprocess.run(
        [sys.executable, str(RUN_CLI), "sessions"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert_clean_stderr(result.stderr)
    used = tmp_path / "xdg" / "tui-scraper"
    assert result.stderr.strip() == f"tui-scraper: HOME is not set; using the data dir {used}"
    # Bad input with HOME unset is still one line, and creates nothing.
    result = subprocess.run(
        [sys.executable, str(RUN_CLI), "crawl", "ftp://x/", "--headless"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "XDG_DATA_HOME": str(tmp_path / "other")},
    )
    _one_line_exit_2(result.stderr, result.returncode)
    assert not (tmp_path / "other").exists()


def test_locks_is_a_file(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir()
    (data / "locks").write_text("not a dir")
    result = cli(data, "crawl", "http://127.0.0.1:9/", "--headless")
    line = _one_line_exit_2(result.stderr, result.returncode)
    assert "locks" in line and "not a directory" in line
    assert (data / "locks").read_text() == "not a dir"


def test_dangling_database_symlink(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir()
    (data / "scraper.db").symlink_to(tmp_path / "gone" / "scraper.db")
    for args in (("sessions",), ("crawl", "http://127.0.0.1:9/", "--headless")):
        result = cli(data, *args)
        line = _one_line_exit_2(result.stderr, result.returncode)
        assert "symlink" in line and "does not exist" in line, line
    assert sorted(p.name for p in data.iterdir()) == ["scraper.db"]
    assert not (tmp_path / "gone").exists()


def test_non_utf8_session_id(tmp_path: Path) -> None:
    data = tmp_path / "d"
    for command in ("resume", "show", "export", "dismiss"):
        result = subprocess.run(
            [sys.executable, str(RUN_CLI), "--data-dir", str(data), command, b"\xff\xfe3f"],
            capture_output=True,
            timeout=60,
        )
        stderr = result.stderr.decode("utf-8", "replace")
        line = _one_line_exit_2(stderr, result.returncode)
        assert "UTF-8" in line or "not a session id" in line, line
    assert not data.exists()


@pytest.mark.skipif(not unshare_available(), reason="needs a private mount namespace")
def test_read_only_file_system_data_dir(tmp_path: Path) -> None:
    """Works as root too: a read-only bind mount (EROFS) in a private mount namespace, where
    file modes would not stop root."""
    data = tmp_path / "d"
    # Nothing listens on port 9: the session exists and has failed, which is all this needs.
    made = cli(data, "crawl", "http://127.0.0.1:9/", "--headless", "--retries", "0")
    assert made.returncode == 1, made.stderr
    made_id = made.stdout.strip()
    before = _snapshot(data)
    script = (
        'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" && '
        'for args in "sessions" "crawl http://127.0.0.1:9/ --headless"; do '
        'python "$2" --data-dir "$1" $args; echo "rc=$?"; done'
    )
    result = run_in_mount_namespace(script, str(data), str(RUN_CLI))
    # Reading works on read-only media (the store opens a file nobody writes as immutable);
    # starting a crawl there is refused in one line, and nothing changes either way.
    out = result.stdout.splitlines()
    assert [line for line in out if line.startswith("rc=")] == ["rc=0", "rc=2"], result.stdout
    assert any(line.startswith(made_id[:8]) and "failed" in line for line in out), out
    assert_clean_stderr(result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Read-only file system" in lines[0], lines
    assert _snapshot(data) == before


def test_reading_commands_create_nothing(tmp_path: Path) -> None:
    """`show`/`export` of an unknown id, or `sessions`, in a data dir that does not exist yet:
    an answer, and no data dir or database made just to give it."""
    data = tmp_path / "fresh"
    for args in (("show", "0000"), ("export", "0000", "-o", str(tmp_path / "out.jsonl"))):
        result = cli(data, *args)
        assert "no session matches" in _one_line_exit_2(result.stderr, result.returncode)
    listed = cli(data, "sessions", "--json")
    assert listed.returncode == 0 and listed.stdout.strip() == "[]", listed.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []
