"""Start a process that outlives the terminal that asked for it.

A background worker must survive a closed terminal, a dropped SSH link and Ctrl-C in the shell that
started it, so it gets a session of its own (no controlling terminal: no SIGHUP when the pty goes,
and not in the shell's foreground process group, so no SIGINT either), stdin from /dev/null and its
stdout/stderr appended to a private log file — which is also where a worker that dies before it is
ready leaves the reason its starter shows the user.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..paths import FILE_MODE, mkdir_private

LOGS_DIRNAME = "logs"


def log_path_for(data_dir: Path, session_id: str) -> Path:
    """Where the worker of `session_id` writes its output: `logs/<id>.log` in the data dir."""
    return Path(data_dir) / LOGS_DIRNAME / f"{session_id}.log"


def python_module_argv(module: str, *args: str) -> list[str]:
    """The command that runs `module` with this interpreter.

    `-P` keeps the current directory off sys.path: started from a checkout of another version,
    the child would otherwise import that checkout's code instead of ours.
    """
    return [sys.executable, "-P", "-m", module, *args]


def spawn_detached(
    argv: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` in a new session, detached from any terminal, output appended to `log_path`.

    The log directory is created private (0700) and the log file 0600; a symlink at the log path
    is refused (OSError) rather than followed, since the data dir may be shared with others.
    The working directory is `/`, so the worker never pins a directory the user may unmount.
    The caller may drop the returned Popen: a daemon thread waits for the child and reaps it
    the moment it exits, so a long-lived starter (the app starts a worker per crawl) never
    keeps exited workers as zombies. `poll()` on the returned object still tells an exit (the
    thread records the status there). The worker's liveness is judged by its lease, never by
    this object.
    """
    log_path = Path(log_path)
    log_dir = log_path.parent
    mkdir_private(log_dir)
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
    log_fd = os.open(log_path, flags, FILE_MODE)
    try:
        child = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
            start_new_session=True,
            close_fds=True,
            cwd="/",
            env=dict(env) if env is not None else None,
        )
    finally:
        os.close(log_fd)
    reaper = threading.Thread(target=child.wait, name=f"reap-{child.pid}", daemon=True)
    # No room for a thread (memory pressure): the child runs all the same, and subprocess
    # reaps it the next time this process starts one.
    with contextlib.suppress(RuntimeError):
        reaper.start()
    return child


def log_tail(log_path: Path, *, max_bytes: int = 4096) -> str:
    """The end of a log (at most `max_bytes`, decoded leniently): what a starter shows when its
    worker died before it was ready. Empty when there is no log."""
    try:
        with open(log_path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            handle.seek(max(0, size - max_bytes))
            data = handle.read(max_bytes)
    except OSError:
        return ""
    return data.decode("utf-8", errors="replace")
