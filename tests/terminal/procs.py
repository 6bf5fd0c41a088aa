"""Processes of the app under test, read from /proc: its tree, and when it is really gone.

"Gone" is "no such process or a zombie": a zombie has exited and holds no memory, only its
exit status for a parent that may never ask (tmux's server exits with its last session).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable


def state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    return stat[stat.rfind(b")") + 2 :].split()[0].decode()


def alive(pid: int) -> bool:
    return state(pid) not in (None, "Z", "X")


def zombie_exit_code(pid: int) -> int | None:
    """The exit code of a zombie (field 52 of /proc/PID/stat, a wait status), else None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()
    # fields[0] is field 3 (state); the exit code is field 52.
    if fields[0] != b"Z" or len(fields) < 50:
        return None
    return os.waitstatus_to_exitcode(int(fields[49]))


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _parents() -> dict[int, int]:
    out: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        out[int(entry)] = int(fields[1])
    return out


def tree(root: int) -> list[int]:
    """`root` and every process below it (fetch workers are grandchildren, via the forkserver)."""
    parents = _parents()
    found = [root]
    for pid in found:
        found.extend(child for child, parent in parents.items() if parent == pid)
    return [pid for pid in found if alive(pid)]


def mentioning(text: str) -> list[int]:
    """Live processes whose command line contains `text` (e.g. a test's own data dir)."""
    me = os.getpid()
    return [
        pid
        for pid in _parents()
        if pid != me and alive(pid) and text in cmdline(pid) and "pytest" not in cmdline(pid)
    ]


def wait_gone(pids: Iterable[int], timeout: float) -> float:
    """Seconds until every pid is gone; AssertionError naming the survivors after `timeout`."""
    started = time.monotonic()
    left = list(pids)
    while True:
        left = [pid for pid in left if alive(pid)]
        elapsed = time.monotonic() - started
        if not left:
            return elapsed
        if elapsed > timeout:
            names = {pid: f"{state(pid)} {cmdline(pid)[:120]}" for pid in left}
            raise AssertionError(f"still running after {timeout} s: {names}")
        time.sleep(0.01)


def kill_all(pids: Iterable[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            continue
