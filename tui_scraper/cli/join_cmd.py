"""`tui-scraper worker`: one more worker for the running sessions of a PostgreSQL database."""

from __future__ import annotations

import asyncio
import signal
import sys

from ..domain.location import StoreLocation
from ..domain.progress import Progress
from .errors import EXIT_INTERRUPTED, EXIT_OK, BadInput
from .run import check_session_ref, print_progress_line

__all__ = ["check_joinable_location", "join_command"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def check_joinable_location(location: StoreLocation) -> None:
    """Refused before anything is opened: a SQLite session has exactly one worker."""
    if not location.is_postgres:
        raise BadInput(
            "worker needs --db postgresql://… (or TUI_SCRAPER_DB): SQLite sessions have one worker"
        )


async def join_command(location: StoreLocation, session_ref: str | None) -> int:
    from ..service.joining import NotJoinable, join_running

    ref = None if session_ref is None else check_session_ref(session_ref)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)

    def on_progress(session_id: str, progress: Progress) -> None:
        print_progress_line(progress, prefix=f"{session_id[:8]}  ")

    try:
        report = await join_running(location, ref, stop=stop, on_progress=on_progress)
    except NotJoinable as exc:
        raise BadInput(str(exc)) from None
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
    for problem in report.passed_over.values():
        print(problem, file=sys.stderr)
    for session_id, status in report.outcomes.items():
        line = f"session {session_id[:8]}: this worker's part ended ({status.value})"
        print(line, file=sys.stderr)
    if not report.outcomes and not report.passed_over:
        print("no running session to join", file=sys.stderr)
    return EXIT_INTERRUPTED if report.stopped else EXIT_OK
