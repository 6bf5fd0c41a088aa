"""The service's files in the data dir: `run/service.lock` (held with flock while it runs: one
service per data dir, and proof of life that dies with the process), `run/service.json` (its
pid, parallel and start time, for `service status`) and `logs/service.log`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ...paths import FILE_MODE
from ..channel.paths import ensure_run_dir, run_dir
from ..detach import LOGS_DIRNAME

LOCK_NAME: Final = "service.lock"
INFO_NAME: Final = "service.json"
LOG_NAME: Final = "service.log"


@dataclass(frozen=True)
class ServiceInfo:
    pid: int
    parallel: int
    started_at: float
    host: str = ""


def lock_path(data_dir: Path) -> Path:
    return run_dir(data_dir) / LOCK_NAME


def info_path(data_dir: Path) -> Path:
    return run_dir(data_dir) / INFO_NAME


def log_path(data_dir: Path) -> Path:
    return Path(data_dir) / LOGS_DIRNAME / LOG_NAME


class ServiceLock:
    """The flock that makes this process the data dir's one service."""

    def __init__(self, fd: int, data_dir: Path) -> None:
        self._fd = fd
        self._data_dir = data_dir

    @classmethod
    def try_take(cls, data_dir: Path) -> ServiceLock | None:
        ensure_run_dir(run_dir(data_dir))
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(lock_path(data_dir), flags, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        return cls(fd, data_dir)

    def publish(self, info: ServiceInfo) -> None:
        """Write the info file (atomically: a reader never sees half of it)."""
        path = info_path(self._data_dir)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(info.__dict__, handle)
        os.replace(tmp, path)

    def release(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(info_path(self._data_dir))
        if self._fd >= 0:
            os.close(self._fd)  # the flock goes with the descriptor
            self._fd = -1


def running_service(data_dir: Path) -> ServiceInfo | None:
    """The service that runs for `data_dir` now (its lock is held), or None. Writes nothing."""
    try:
        fd = os.open(lock_path(data_dir), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_info(data_dir) or ServiceInfo(pid=0, parallel=0, started_at=0.0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_info(data_dir: Path) -> ServiceInfo | None:
    try:
        with open(info_path(data_dir), encoding="utf-8") as handle:
            raw = json.load(handle)
        return ServiceInfo(
            pid=int(raw["pid"]),
            parallel=int(raw["parallel"]),
            started_at=float(raw["started_at"]),
            host=str(raw.get("host", "")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None  # not written yet (the service is starting) or damaged
