"""`tui-scraper worker`: join the running sessions of a shared database and crawl beside their
other workers until none of them has work left for this process.

A session started with secret headers (`--header 'Authorization: …'`, `--cookie`) is joined
only where their values are: they stay in a 0600 file in the data dir of the machine that
started it, never in the database, and a worker without them would crawl the site
unauthenticated beside workers that are not. Such a session is refused (when named) or passed
over with one line saying why.

Each session is joined once (SessionRunner.join): its run ends when the shared frontier has
nothing this worker could claim and nothing of its own is in flight, then the worker leaves it
to the others or, the last one out, completes it. Sessions started while this process works
are joined too; it returns once no running session is left that it has not worked on. A stop
(SIGTERM, Ctrl-C) interrupts every run the orderly way: the final checkpoint, its claims back
in the queue, its worker row gone; the sessions keep running for the other workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from ..domain.errors import InvalidTransition, SessionBusy
from ..domain.location import StoreLocation
from ..domain.progress import Progress
from ..domain.records import SessionRecord
from ..domain.status import Status
from ..ports import SessionStore, SharedRuns
from .secrets import DataDirSecrets
from .session_files import missing_secrets
from .worker import DEFAULT_PARSE_WORKERS, SessionRunner

__all__ = ["JoinReport", "NotJoinable", "join_running"]

# How often the list of running sessions is read again for one started meanwhile.
RESCAN_S = 1.0

ProgressSink = Callable[[str, Progress], None]


class NotJoinable(Exception):
    """The session named cannot be joined (not running, or no live worker runs it)."""


@dataclass
class JoinReport:
    """What this worker did: each session it joined and how its part ended."""

    outcomes: dict[str, Status] = field(default_factory=dict)
    stopped: bool = False
    # Sessions this worker could not join here, and why (their secret headers are elsewhere).
    passed_over: dict[str, str] = field(default_factory=dict)


async def join_running(
    location: StoreLocation,
    session_ref: str | None,
    *,
    stop: asyncio.Event,
    on_progress: ProgressSink,
    progress_every: float = 5.0,
    parse_workers: int = DEFAULT_PARSE_WORKERS,
) -> JoinReport:
    from ..backends.open import open_store

    store = await open_store(location)
    report = JoinReport()
    runs: dict[str, asyncio.Task[Status]] = {}
    runners: dict[str, SessionRunner] = {}
    who = f"worker:{os.getpid()}"
    secrets = DataDirSecrets(location.data_dir)
    try:
        if not isinstance(store, SharedRuns):
            raise NotJoinable("this store runs each session in one worker")
        only = None if session_ref is None else await store.resolve_id(session_ref)
        if only is not None:
            session = await store.get_session(only)
            if session.status is not Status.RUNNING:
                raise NotJoinable(
                    f"session {session.short_id} is {session.status.value}; only a running "
                    "session can be joined (start it with crawl or resume)"
                )
        reporter = asyncio.create_task(_report(runners, on_progress, progress_every))
        try:
            while not stop.is_set():
                for session in await store.list_sessions():
                    sid = session.id
                    if session.status is not Status.RUNNING or sid in report.outcomes:
                        continue
                    if (only is not None and sid != only) or sid in runs:
                        continue
                    if sid in report.passed_over:
                        continue
                    problem = await _secrets_elsewhere(location, session)
                    if problem is not None:
                        if only is not None:
                            raise NotJoinable(problem)
                        report.passed_over[sid] = problem
                        continue
                    try:
                        runner = await SessionRunner.join(
                            store, sid, who=who, secrets=secrets, parse_workers=parse_workers
                        )
                    except (InvalidTransition, SessionBusy):
                        if only is not None and not runs and not report.outcomes:
                            raise NotJoinable(
                                f"session {session.short_id} is not run by a live worker; "
                                "resume it to run it"
                            ) from None
                        continue
                    runners[sid] = runner
                    runs[sid] = asyncio.create_task(runner.run())
                for sid, task in list(runs.items()):
                    if task.done():
                        report.outcomes[sid] = task.result()
                        del runs[sid]
                        on_progress(sid, runners.pop(sid).stats.progress)
                if not runs and (only is not None or not await _any_new(store, report)):
                    break
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(RESCAN_S):
                        await stop.wait()
            if stop.is_set():
                report.stopped = True
                for runner in runners.values():
                    runner.interrupt("signal", who="signal")
            for sid, task in runs.items():
                report.outcomes[sid] = await task
                on_progress(sid, runners[sid].stats.progress)
        finally:
            reporter.cancel()
            with contextlib.suppress(BaseException):
                await reporter
            for task in runs.values():
                task.cancel()
            for task in runs.values():
                with contextlib.suppress(BaseException):
                    await task
    finally:
        await store.close()
    return report


async def _any_new(store: SessionStore, report: JoinReport) -> bool:
    """A running session this worker has not worked on (nor passed over) yet."""
    sessions = await store.list_sessions()
    return any(
        s.status is Status.RUNNING
        and s.id not in report.outcomes
        and s.id not in report.passed_over
        for s in sessions
    )


async def _secrets_elsewhere(location: StoreLocation, session: SessionRecord) -> str | None:
    """Why this machine cannot send the secret headers `session` was started with, or None."""
    names = [str(n) for n in session.config.extra.get("secret_header_names") or []]
    if not names:
        return None
    problem = await asyncio.to_thread(missing_secrets, location.data_dir, session.id, names)
    if problem is None:
        return None
    return (
        f"session {session.short_id} sends secret headers ({', '.join(names)}) that this "
        "machine does not have (they stay in the data dir of the machine that started it, "
        f"never in the database): not joined, so it is not crawled unauthenticated ({problem})"
    )


async def _report(
    runners: dict[str, SessionRunner], on_progress: ProgressSink, every: float
) -> None:
    while True:
        await asyncio.sleep(every)
        for sid, runner in list(runners.items()):
            on_progress(sid, runner.stats.progress)
