"""Start a session's background worker and wait until it is ready to be watched.

Ready means its live channel answered `hello` with the worker's own pid. A worker that exits
first either found nothing left to do (the session is final or paused by then: fine) or was
refused or crashed: then the starter gets one line for the user, taken from what this worker
wrote to its log. No answer within the bound is an error too, naming the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ..domain.errors import ScraperError
from ..domain.location import DB_ENV_VAR, StoreLocation
from ..domain.status import FINAL, Status
from ..safe_text import display_safe
from .channel import protocol
from .channel.paths import socket_path
from .detach import log_path_for, python_module_argv, spawn_detached
from .worker_main import MODULE  # not worker_process: a starter needs no engine

READY_TIMEOUT_S: Final = 10.0
_POLL_S: Final = 0.05
_HELLO_TIMEOUT_S: Final = 0.5


class WorkerStartFailed(ScraperError):
    """The worker could not be started or never became ready; the message is one line."""


@dataclass(frozen=True)
class WorkerStarted:
    pid: int
    socket_path: Path
    log_path: Path
    # False: the worker had already stopped (the session was final or paused) when we looked.
    serving: bool = True


def worker_env(location: StoreLocation) -> dict[str, str]:
    """The worker's environment: ours, with the database URL in TUI_SCRAPER_DB for a
    PostgreSQL store (never on argv, which every user of the machine can read in `ps`), and
    without it for SQLite (the data dir on argv is the whole location then)."""
    env = dict(os.environ)
    if location.db_url is None:
        env.pop(DB_ENV_VAR, None)
    else:
        env[DB_ENV_VAR] = location.db_url
    return env


async def start_worker(
    where: StoreLocation | Path, session_id: str, *, timeout: float = READY_TIMEOUT_S
) -> WorkerStarted:
    """Spawn the worker of `session_id` detached from this terminal and wait until it serves
    its channel (or has already finished); WorkerStartFailed otherwise. The worker opens the
    same store: the data dir on its argv, a database URL in its environment."""
    location = where if isinstance(where, StoreLocation) else StoreLocation(Path(where))
    data_dir = Path(location.data_dir).absolute()  # the worker runs in `/`
    location = StoreLocation(data_dir, location.db_url)
    path = socket_path(data_dir, session_id)
    log_path = log_path_for(data_dir, session_id)
    try:
        log_start = os.stat(log_path).st_size
    except OSError:
        log_start = 0
    argv = python_module_argv(MODULE, "--data-dir", os.fspath(data_dir), session_id)
    try:
        child = spawn_detached(argv, log_path=log_path, env=worker_env(location))
    except OSError as exc:
        raise WorkerStartFailed(f"cannot start the worker: {exc.strerror or exc}") from None
    deadline = time.monotonic() + timeout
    while True:
        if await hello_from(path, child.pid):
            return WorkerStarted(child.pid, path, log_path)
        code = child.poll()
        if code is not None:
            if code != 2 and await _stopped(location, session_id):
                return WorkerStarted(child.pid, path, log_path, serving=False)
            why = location.redact(_last_line(log_path, log_start)) or f"exit status {code}"
            raise WorkerStartFailed(f"the worker stopped before it was ready: {why}")
        if time.monotonic() >= deadline:
            raise WorkerStartFailed(
                f"the worker (pid {child.pid}) did not answer within {timeout:g} s; "
                f"see {display_safe(os.fspath(log_path))}"
            )
        await asyncio.sleep(_POLL_S)


async def hello_from(path: Path, pid: int | None = None) -> bool:
    """Whether a worker answers `hello` on `path` (and is `pid`, when given)."""
    try:
        async with asyncio.timeout(_HELLO_TIMEOUT_S):
            reader, writer = await asyncio.open_unix_connection(
                os.fspath(path), limit=protocol.MAX_SERVER_LINE
            )
            try:
                message = protocol.decode(await reader.readuntil(b"\n"))
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
    except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return False
    except protocol.ProtocolError:
        return False
    if message.get("type") != "hello" or message.get("protocol") != protocol.PROTOCOL_VERSION:
        return False
    return pid is None or message.get("pid") == pid


async def _stopped(location: StoreLocation, session_id: str) -> bool:
    """The session is final or paused: a worker that exited found nothing left to run."""
    from ..backends.open import open_store

    try:
        store = await open_store(location, readonly=True)
    except ScraperError:
        return False
    try:
        record = await store.get_session(session_id)
    except ScraperError:
        return False
    finally:
        await store.close()
    return record.status in FINAL or record.status is Status.PAUSED


def _last_line(log_path: Path, start: int) -> str:
    """The last non-empty line this worker wrote (from `start` on), display-safe."""
    try:
        with open(log_path, "rb") as handle:
            handle.seek(start)
            data = handle.read()[-4096:]
    except OSError:
        return ""
    lines = [line.strip() for line in data.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return ""
    # "<time>Z worker <pid>: refused: ..." -> "refused: ..."
    text = re.sub(r"^\S+Z worker \d+: ", "", lines[-1])
    return display_safe(text, 300)
