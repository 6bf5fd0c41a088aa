"""The client side of the service: start it detached, stop it, tell whether it runs.

`stop` sends SIGTERM and waits for the lock to be free: the service finishes the worker starts
it has in flight and exits; the workers it started keep crawling (they are processes of their
own), and the next service counts them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ...domain.location import StoreLocation
from ...domain.schedules import ServiceError
from ...paths import ensure_data_dir
from ...safe_text import display_safe
from ..detach import log_tail, python_module_argv, spawn_detached
from ..spawn import worker_env
from . import MODULE
from .files import ServiceInfo, log_path, running_service

READY_TIMEOUT_S: Final = 10.0
STOP_TIMEOUT_S: Final = 30.0
_POLL_S: Final = 0.05


@dataclass(frozen=True)
class ServiceStart:
    info: ServiceInfo
    already: bool  # True: it was running before (this call started nothing)
    log_path: Path


def service_argv(data_dir: Path, parallel: int) -> list[str]:
    return python_module_argv(
        MODULE, "--data-dir", os.fspath(Path(data_dir).absolute()), "--parallel", str(parallel)
    )


async def start_service(location: StoreLocation, parallel: int) -> ServiceStart:
    data_dir = Path(location.data_dir).absolute()
    location = StoreLocation(data_dir, location.db_url)
    log = log_path(data_dir)
    running = running_service(data_dir)
    if running is not None:
        return ServiceStart(running, True, log)
    ensure_data_dir(data_dir)  # a first `service start` on a new data dir: logs/ goes in it
    try:
        start = os.stat(log).st_size
    except OSError:
        start = 0
    try:
        child = spawn_detached(
            service_argv(data_dir, parallel), log_path=log, env=worker_env(location)
        )
    except OSError as exc:
        raise ServiceError(f"cannot start the service: {exc.strerror or exc}") from None
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        info = running_service(data_dir)
        if info is not None and info.pid == child.pid:
            return ServiceStart(info, False, log)
        if child.poll() is not None:
            if info is not None:  # another start won the race: that one runs
                return ServiceStart(info, True, log)
            raise ServiceError(f"the service stopped at once: {_last_line(log, start)}")
        if time.monotonic() >= deadline:
            raise ServiceError(
                f"the service (pid {child.pid}) did not start within {READY_TIMEOUT_S:g} s; "
                f"see {display_safe(os.fspath(log))}"
            )
        await asyncio.sleep(_POLL_S)


async def stop_service(data_dir: Path, timeout: float = STOP_TIMEOUT_S) -> ServiceInfo | None:
    """SIGTERM to the running service, then wait until it is gone. None: none was running."""
    info = running_service(data_dir)
    if info is None:
        return None
    if info.pid <= 0:
        raise ServiceError("the service is starting; try again in a moment")
    try:
        os.kill(info.pid, signal.SIGTERM)
    except ProcessLookupError:
        return info
    except PermissionError:
        raise ServiceError(f"the service (pid {info.pid}) is not ours to stop") from None
    deadline = time.monotonic() + timeout
    while running_service(data_dir) is not None:
        if time.monotonic() >= deadline:
            raise ServiceError(f"the service (pid {info.pid}) did not stop within {timeout:g} s")
        await asyncio.sleep(_POLL_S)
    return info


def _last_line(log: Path, start: int) -> str:
    text = log_tail(log)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return "no reason in the log"
    return display_safe(lines[-1].split(": ", 1)[-1], 300)
