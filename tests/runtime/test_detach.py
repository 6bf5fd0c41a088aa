"""A detached child outlives its starter: own session, no terminal, output in a private log."""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tui_scraper.runtime.detach import log_path_for, log_tail, python_module_argv, spawn_detached

REPORT = (
    "import os, sys\n"
    "print('sid', os.getsid(0), 'pid', os.getpid())\n"
    "print('stdin', os.readlink('/proc/self/fd/0'))\n"
    "print('cwd', os.getcwd())\n"
    "print('err', file=sys.stderr)\n"
)


def _wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is dead for our purpose.
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_child_has_its_own_session_no_terminal_and_a_private_log(tmp_path: Path) -> None:
    log = log_path_for(tmp_path, "abc123")
    child = spawn_detached([sys.executable, "-c", REPORT], log_path=log)
    assert child.wait(timeout=10) == 0
    words = dict(line.split(" ", 1) for line in log.read_text().splitlines() if " " in line)
    sid_pid = words["sid"].split()
    assert sid_pid[0] == sid_pid[2] == str(child.pid)  # a session leader: no controlling terminal
    assert words["stdin"] == "/dev/null"
    assert words["cwd"] == "/"
    assert "err" in log.read_text()  # stderr goes to the same log
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700
    assert log.parent == tmp_path / "logs"


def test_log_is_appended_not_replaced(tmp_path: Path) -> None:
    log = log_path_for(tmp_path, "s1")
    for word in ("first", "second"):
        spawn_detached([sys.executable, "-c", f"print({word!r})"], log_path=log).wait(timeout=10)
    assert log.read_text().split() == ["first", "second"]
    assert log_tail(log, max_bytes=7) == "second\n"
    assert log_tail(tmp_path / "missing.log") == ""


def test_symlink_at_the_log_path_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("keep")
    log = log_path_for(tmp_path, "s2")
    log.parent.mkdir(mode=0o700)
    log.symlink_to(target)
    with pytest.raises(OSError):
        spawn_detached([sys.executable, "-c", "print('x')"], log_path=log)
    assert target.read_text() == "keep"


def test_child_survives_the_hangup_of_its_starters_process_group(tmp_path: Path) -> None:
    """The starter runs in a process group of its own, as a shell job would; SIGHUP to that group
    (what a closing terminal sends) ends the starter but not the detached child."""
    pid_file = tmp_path / "pid"
    starter_code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from tui_scraper.runtime.detach import spawn_detached\n"
        "child = spawn_detached([sys.executable, '-c', 'import time; time.sleep(60)'],"
        f" log_path=Path({str(tmp_path / 'logs' / 'c.log')!r}))\n"
        f"Path({str(pid_file)!r}).write_text(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    starter = subprocess.Popen([sys.executable, "-c", starter_code], process_group=0)
    try:
        _wait_for(lambda: pid_file.exists() and pid_file.read_text() != "")
        child_pid = int(pid_file.read_text())
        os.killpg(starter.pid, signal.SIGHUP)
        assert starter.wait(timeout=10) == -signal.SIGHUP
        assert _alive(child_pid)
        assert os.getpgid(child_pid) != starter.pid
    finally:
        if starter.poll() is None:
            starter.kill()
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_module_argv_keeps_the_current_directory_off_the_path(tmp_path: Path) -> None:
    decoy = tmp_path / "tui_scraper"
    decoy.mkdir()
    (decoy / "__init__.py").write_text("raise SystemExit('decoy imported')\n")
    (decoy / "probe.py").write_text("")
    argv = python_module_argv("tui_scraper.runtime.detach")
    result = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "decoy" not in result.stderr


def _state(pid: int) -> str | None:
    """The process's state letter (Z: a zombie, exited but not reaped), None once reaped."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


def test_an_exited_child_is_reaped_at_once_even_when_its_popen_is_dropped(
    tmp_path: Path,
) -> None:
    # A long-lived starter (the app) drops the Popen of each worker it starts and may start no
    # other child for hours: without a reaper each exited worker stays a <defunct> zombie.
    child = spawn_detached([sys.executable, "-c", "pass"], log_path=tmp_path / "logs" / "a.log")
    pid = child.pid
    del child
    _wait_for(lambda: _state(pid) is None)


def test_the_exit_status_is_still_seen_by_poll(tmp_path: Path) -> None:
    # start_worker tells "died before it was ready" by poll(): the reaper must not hide it.
    child = spawn_detached(
        [sys.executable, "-c", "raise SystemExit(3)"], log_path=tmp_path / "logs" / "b.log"
    )
    _wait_for(lambda: child.poll() is not None)
    assert child.returncode == 3
    assert _state(child.pid) is None
