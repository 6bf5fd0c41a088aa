"""The service process's main: take the data dir's service lock, run the loop until a signal.

Started detached by `service start` (control.py) or in the foreground by a systemd user unit;
its stdout is `logs/service.log`. The store is SQLite in DIR unless TUI_SCRAPER_DB names a
PostgreSQL database (by the environment, never argv), as for a worker.

Exit codes: 0 stopped by a signal (SIGTERM, SIGINT, SIGHUP) or already running (the other
one's pid is logged), 2 bad arguments, 1 the store could not be opened.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final, NoReturn, cast

from ...domain.errors import ScraperError
from ...domain.location import DB_ENV_VAR, BadLocation, StoreLocation, parse_db_value
from ...domain.schedules import MAX_PARALLEL
from . import MODULE
from .files import ServiceInfo, ServiceLock, running_service
from .loop import ServiceLoop

EXIT_OK, EXIT_FAILED, EXIT_REFUSED = 0, 1, 2
STOP_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

_LOCATION: StoreLocation | None = None


class _Refused(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _Refused(message)


def say(text: str) -> None:
    if _LOCATION is not None:
        text = _LOCATION.redact(text)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    print(f"{stamp}Z service {os.getpid()}: {text}", flush=True)


def parallel_value(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= MAX_PARALLEL:
        raise argparse.ArgumentTypeError(f"{value} is not from 1 to {MAX_PARALLEL}")
    return value


def _parse(argv: Sequence[str] | None) -> tuple[StoreLocation, int]:
    parser = _Parser(prog=MODULE)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--parallel", type=parallel_value, default=1)
    args = parser.parse_args(argv)
    data_dir = Path(args.data_dir).absolute()
    value = os.environ.get(DB_ENV_VAR)
    if value is None:
        return StoreLocation(data_dir), args.parallel
    try:
        choice = parse_db_value(value, where=DB_ENV_VAR)
    except BadLocation as exc:
        raise _Refused(str(exc)) from None
    return StoreLocation(data_dir, choice.url), args.parallel


def main(argv: Sequence[str] | None = None) -> int:
    try:
        location, parallel = _parse(argv)
    except _Refused as exc:
        print(f"service: {exc}", file=sys.stderr, flush=True)
        return EXIT_REFUSED
    global _LOCATION
    _LOCATION = location
    lock = ServiceLock.try_take(location.data_dir)
    if lock is None:
        other = running_service(location.data_dir)
        say(f"already running (pid {other.pid if other else '?'}): this one stops")
        return EXIT_OK
    try:
        return asyncio.run(_serve(location, parallel, lock))
    except ScraperError as exc:
        say(f"stopped: {exc}")
        return EXIT_FAILED
    finally:
        lock.release()


async def _serve(location: StoreLocation, parallel: int, lock: ServiceLock) -> int:
    from ...backends.open import open_store
    from ...ports import PlanningStore

    store = cast(PlanningStore, await open_store(location))
    # Published once the store is open: a starter that sees this pid knows the service runs
    # (a store that cannot be opened stops it first, and the starter shows why).
    lock.publish(
        ServiceInfo(
            pid=os.getpid(), parallel=parallel, started_at=time.time(), host=socket.gethostname()
        )
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        say(f"got {signal.Signals(signum).name}: stopping (its workers keep crawling)")
        stop.set()

    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, on_signal, signum)
    say(f"started for {location.shown}, at most {parallel} session(s) at a time")
    try:
        await ServiceLoop(store, location, parallel, say, who=f"service:{os.getpid()}").run(stop)
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
        await store.close()
    say("stopped")
    return EXIT_OK
