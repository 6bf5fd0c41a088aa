"""The proof of life of a running session: flock on data_dir/locks/<session id>.lock.

An flock dies with its process (even on SIGKILL), so "lock not held" proves the owner is gone
with no timeout; pids alone prove nothing (reuse). We never use POSIX lockf/F_SETLK: closing any
fd of the file would drop them. Lock files are never deleted: unlinking
a lock file races with a process that has just opened it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...domain.ids import SESSION_ID_RE
from ...paths import FILE_MODE, make_private_dir

LOCKS_DIRNAME = "locks"

_ID_RE = SESSION_ID_RE


@dataclass
class HeldLock:
    session_id: str
    path: Path
    fd: int

    def release(self) -> None:
        if self.fd < 0:
            return
        fd, self.fd = self.fd, -1
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def lock_path(data_dir: Path, session_id: str) -> Path:
    if not _ID_RE.match(session_id):  # ids come from uuid4().hex; never a path from outside
        raise ValueError(f"bad session id {session_id!r}")
    return data_dir / LOCKS_DIRNAME / f"{session_id}.lock"


def try_lock(data_dir: Path, session_id: str) -> HeldLock | None:
    """Take the lock without waiting; None when another open file holds it."""
    path = lock_path(data_dir, session_id)
    make_private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return HeldLock(session_id, path, fd)


def owner_alive(data_dir: Path, session_id: str) -> bool:
    """Whether a live process holds the session's lock — asked without creating or changing a
    file, so read-only commands can tell a crashed run from a running one and write nothing."""
    try:
        fd = os.open(lock_path(data_dir, session_id), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False  # no lock file: nobody can be holding it
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the shared lock we may have taken
    return False


def write_owner(lock: HeldLock, info: dict[str, Any]) -> None:
    """Who holds the lock, for error messages only (the flock itself is the truth)."""
    payload = json.dumps(info, sort_keys=True).encode()
    os.ftruncate(lock.fd, 0)
    os.pwrite(lock.fd, payload, 0)


def read_owner(data_dir: Path, session_id: str) -> dict[str, Any]:
    with contextlib.suppress(OSError, ValueError):
        text = lock_path(data_dir, session_id).read_text(encoding="utf-8")
        data = json.loads(text)
        if isinstance(data, dict):
            return data
    return {}


def pid_from_lease(lease_owner: str | None) -> int | None:
    """LeaseOwner.text() is host:pid:start:run_id."""
    if not lease_owner:
        return None
    parts = lease_owner.split(":")
    if len(parts) >= 2 and parts[1].isdigit():
        return int(parts[1])
    return None
