"""The background worker: one process that runs one session, detached from any terminal.

    python -P -m tui_scraper.runtime.worker_main --data-dir DIR SESSION_ID

(`worker_main` is a package whose `__main__` calls `main` here: see its docstring for why.)
The store is SQLite in DIR unless TUI_SCRAPER_DB names a PostgreSQL database: the URL comes by
the environment, never argv (which `ps` shows every user), and is masked in every log line.

It takes the session's lease (a second worker of a running session is refused: exit 2, one
line), serves the live channel on `run/<id>.sock` (snapshot, progress, events, commands) and
applies the commands clients post in the store, until the crawl stops. SIGTERM, SIGHUP and
SIGINT stop it the orderly way: a final checkpoint, `interrupted`, the signal named as the
reason. Its stdout is the session's log file (`spawn.start_worker` points it there): a line
when it starts, when it stops and why.

Exit codes are the command line's: 0 completed, 1 failed or cancelled (or stopped by a fault of
ours), 130 interrupted by a signal or paused, 2 refused (bad arguments, session busy or final).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final, NoReturn

from ..domain.errors import ScraperError, StorageUnavailable
from ..domain.ids import is_session_id
from ..domain.location import DB_ENV_VAR, BadLocation, StoreLocation, parse_db_value
from ..domain.status import Status
from ..engine.child_processes import prestart
from .channel.paths import ChannelError, socket_path
from .channel.server import ChannelServer
from .live import LiveSession, flush_clients
from .secrets import DataDirSecrets
from .worker import SessionRunner
from .worker_main import MODULE

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_REFUSED", "MODULE", "main", "serve"]

EXIT_OK, EXIT_FAILED, EXIT_REFUSED, EXIT_INTERRUPTED = 0, 1, 2, 130
STOP_SIGNALS: Final = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)

STATUS_EXIT: Final = {
    Status.COMPLETED: EXIT_OK,
    # This worker's part is done and other workers of the session (PostgreSQL) finish it.
    Status.RUNNING: EXIT_OK,
    Status.FAILED: EXIT_FAILED,
    Status.PAUSED: EXIT_INTERRUPTED,
    # Interrupted by no signal: the disk refused a write; resumable, but this run failed.
    Status.INTERRUPTED: EXIT_FAILED,
}


class _Refused(Exception):
    """Bad arguments: one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _Refused(message)


# The location this process serves, for masking its password out of every log line.
_LOCATION: StoreLocation | None = None


def say(text: str) -> None:
    """One log line (stdout is the session's log file); the database password never in it."""
    if _LOCATION is not None:
        text = _LOCATION.redact(text)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    print(f"{stamp}Z worker {os.getpid()}: {text}", flush=True)


def _parse(argv: Sequence[str] | None) -> tuple[StoreLocation, str]:
    parser = _Parser(prog=MODULE, description="Run one session in this process.")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("session_id")
    args = parser.parse_args(argv)
    if not is_session_id(args.session_id):
        raise _Refused(f"{args.session_id!r:.60} is not a full session id")
    return _location(Path(args.data_dir)), args.session_id


def _location(data_dir: Path) -> StoreLocation:
    """The data dir of argv, with the database TUI_SCRAPER_DB names (PostgreSQL only: the
    starter passes a SQLite location as the data dir itself)."""
    value = os.environ.get(DB_ENV_VAR)
    if value is None:
        return StoreLocation(data_dir)
    try:
        choice = parse_db_value(value, where=DB_ENV_VAR)
    except BadLocation as exc:
        raise _Refused(str(exc)) from None
    # A SQLite value names a data dir, and argv has already said which one.
    return StoreLocation(data_dir, choice.url)


class _Redacting(logging.Filter):
    """A library's log line (a connection pool's complaint, say) loses the database password
    before it reaches the log file."""

    def __init__(self, location: StoreLocation) -> None:
        super().__init__()
        self._location = location

    def filter(self, record: logging.LogRecord) -> bool:
        if self._location.db_url is not None:
            record.msg = self._location.redact(record.getMessage())
            record.args = None
        return True


def main(argv: Sequence[str] | None = None) -> int:
    try:
        location, session_id = _parse(argv)
    except _Refused as exc:
        print(f"worker: {exc}", file=sys.stderr, flush=True)
        return EXIT_REFUSED
    global _LOCATION
    _LOCATION = location
    # Our own warnings and notes go to the log; libraries' chatter (a line per request) not.
    logging.basicConfig(
        stream=sys.stdout, level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s"
    )
    logging.getLogger("tui_scraper").setLevel(logging.INFO)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_Redacting(location))
    try:
        return asyncio.run(serve(location, session_id))
    except StorageUnavailable as exc:
        say(f"stopped: {exc}")
        return EXIT_FAILED
    except ScraperError as exc:
        say(f"refused: {exc}")
        return EXIT_REFUSED


async def serve(where: StoreLocation | Path, session_id: str) -> int:
    """Run the session to a stop with its channel and control records; the exit code."""
    from ..backends.open import as_location, blob_writer_module, open_store

    location = as_location(where)
    data_dir = location.data_dir
    path = socket_path(data_dir, session_id)  # a path AF_UNIX cannot take refuses us first
    # The fetch workers' forkserver imports while we open the store and the lease; the blob
    # writer's module too, which every worker unpickles.
    prestart(preload=[blob_writer_module(location)])
    store = await open_store(location)
    try:
        who = f"worker:{os.getpid()}"
        try:
            runner = await SessionRunner.acquire(
                store, session_id, who=who, secrets=DataDirSecrets(data_dir)
            )
        except ScraperError as exc:  # busy (another live worker), final, not found
            say(f"refused: {exc}")
            return EXIT_REFUSED
        say(f"started session {session_id} ({runner.stats.target_url})")
        return await _run(runner, LiveSession(runner, store, who=who), path)
    finally:
        await store.close()


async def _run(runner: SessionRunner, live: LiveSession, path: Path) -> int:
    loop = asyncio.get_running_loop()
    signals: list[str] = []

    def on_signal(signum: int) -> None:
        name = signal.Signals(signum).name
        signals.append(name)
        say(f"got {name}: interrupting after a final checkpoint")
        runner.interrupt(f"signal {name}", who="signal")

    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, on_signal, signum)
    server = ChannelServer(
        path,
        live.snapshot,
        live.handle_command,
        snapshot_key=live.snapshot_key,
        session_id=runner.session_id,
    )
    try:
        await server.start()
        live.server = server
        say(f"serving {path}")
    except ChannelError as exc:
        # No channel, no way to watch or steer it: stop resumably rather than run blind.
        say(f"cannot serve the live channel: {exc}")
        runner.interrupt(f"the live channel could not be served: {exc}", who="worker")
    try:
        status = await live.beside(asyncio.ensure_future(runner.run()))
        await flush_clients(server)
    finally:
        await server.close()
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
    reason = f"signal {signals[0]}" if signals else await _stored_error(runner)
    say(f"stopped: {status.value}" + (f" ({reason})" if reason else ""))
    if signals and status is Status.INTERRUPTED:
        return EXIT_INTERRUPTED
    return STATUS_EXIT.get(status, EXIT_FAILED)


async def _stored_error(runner: SessionRunner) -> str:
    with contextlib.suppress(ScraperError):
        return (await runner.store.get_session(runner.session_id)).error or ""
    return ""


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
