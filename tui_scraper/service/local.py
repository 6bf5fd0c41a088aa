"""LocalSessionService: the service in this process, over today's SessionManager.

Crawls run in this event loop (today's behaviour). The live figures come from the crawl's
stats, sampled and copied into frozen ProgressSnapshots, so no caller ever holds the
engine's mutable objects. Everything below the service is reached through the runtime.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tui_scraper.domain import (
    CrawlConfig,
    EventRecord,
    PageRecord,
    PageStatus,
    SessionRecord,
    Status,
)
from tui_scraper.domain.analytics import AnalyticsReport
from tui_scraper.domain.errors import ScraperError
from tui_scraper.domain.location import StoreLocation
from tui_scraper.domain.records import PageState
from tui_scraper.domain.status import RESUMABLE
from tui_scraper.domain.tuning import Tuning
from tui_scraper.ports import BlobReader
from tui_scraper.runtime.channel.paths import ChannelError
from tui_scraper.runtime.manager import SessionManager
from tui_scraper.runtime.session_files import forget_secrets, missing_secrets

from . import (
    DEFAULT_WATCH_HZ,
    CommandDelivery,
    LiveSample,
    ProgressSnapshot,
    WorkerInfo,
)
from .analytics import HostQueueCache, report_for
from .diff import DiffEntry, merge_states, page_text

if TYPE_CHECKING:
    from tui_scraper.runtime.channel.protocol import CommandKind

# `remote` (the client side of a worker's channel) is imported by the methods that use it: a
# listing, or a crawl run in this process, never talks to a worker.

# The commands a client may send a running worker from the command line.
WORKER_COMMANDS: dict[str, CommandKind] = {
    "pause": "pause",
    "cancel": "cancel",
    "interrupt": "interrupt",
}
# How long a command posted as a control record is waited on for the worker's outcome: the
# worker polls about twice a second.
CONTROL_WAIT_S = 3.0
# How long a thread waits for the store's answer to "who holds this lease" (PostgreSQL).
WORKER_LOOKUP_S = 10.0


class NotRunnable(ScraperError):
    """The session is not in a state the command applies to; one line for the user."""


class _LiveStats(Protocol):
    """What the service needs of a crawl's live stats: a sample of them."""

    def snapshot(self) -> LiveSample: ...


class LocalSessionService:
    def __init__(self, manager: SessionManager, *, who: str = "client") -> None:
        self._manager = manager
        # Who this client is, in the control records it posts.
        self._who = f"{who}:{os.getpid()}"
        # The stats of the last crawl of each session started here: a crawl that just ended
        # still has recent pages and errors that arrived after a reader's previous sample.
        self._stats: dict[str, _LiveStats] = {}
        # The loop the store runs on, so a thread can ask it who holds a lease (PostgreSQL).
        self._loop = _running_loop()
        # The per-host queue is a scan: a live Analytics tab reads it at most every 10 s.
        self._host_queue = HostQueueCache()

    @classmethod
    async def open(
        cls, where: StoreLocation | Path, *, who: str = "ui", readonly: bool = False
    ) -> LocalSessionService:
        """The service of the store at `where` (a data dir alone: SQLite there). `readonly` is
        for commands that only look: the database is opened read-only and nothing is reaped or
        collected, so a look writes nothing (an orphan stays `running` and reads as
        interrupted)."""
        return cls(await SessionManager.open(where, who=who, readonly=readonly), who=who)

    @property
    def data_dir(self) -> Path:
        return self._manager.data_dir

    @property
    def location(self) -> StoreLocation:
        return self._manager.location

    # queries -------------------------------------------------------------------------------
    async def list_sessions(self) -> list[SessionRecord]:
        return await self._manager.list_sessions()

    async def get(self, session_ref: str) -> SessionRecord:
        return await self._manager.get(session_ref)

    async def events(self, session_ref: str) -> list[EventRecord]:
        return await self._manager.events(session_ref)

    async def recoverable(self) -> list[SessionRecord]:
        return await self._manager.recoverable()

    async def pages(
        self, session_ref: str, *, status: PageStatus | None = None, limit: int = 500
    ) -> list[PageRecord]:
        return await self._manager.pages(session_ref, status=status, limit=limit)

    async def pages_after(
        self,
        session_ref: str,
        *,
        status: PageStatus | None = None,
        after_id: int = 0,
        limit: int = 200,
        search: str = "",
    ) -> list[PageRecord]:
        return await self._manager.pages_after(
            session_ref, status=status, after_id=after_id, limit=limit, search=search
        )

    async def page_counts(self, session_ref: str) -> dict[PageStatus, int]:
        return await self._manager.page_counts(session_ref)

    async def analytics(self, session_ref: str) -> AnalyticsReport:
        session = await self._manager.get(session_ref)
        return await report_for(self._manager.store, session, self._host_queue)

    def running_ids(self) -> list[str]:
        return list(self._manager.running())

    def latest(self, session_id: str) -> ProgressSnapshot | None:
        handle = self._manager.handle(session_id)
        if handle is not None:
            self._stats[session_id] = handle.stats
            snap = handle.stats.snapshot()
            # The crawl sets its final state a moment before its task ends (it still releases
            # its lease): from then on nothing more moves, so it no longer counts as live.
            return ProgressSnapshot.of_stats(snap, live=snap.state is Status.RUNNING)
        stats = self._stats.get(session_id)
        if stats is None:
            return None
        return ProgressSnapshot.of_stats(stats.snapshot(), live=False)

    async def watch(
        self, session_id: str, *, hz: float = DEFAULT_WATCH_HZ
    ) -> AsyncIterator[ProgressSnapshot]:
        period = 1.0 / hz if hz > 0 else 1.0 / DEFAULT_WATCH_HZ
        last: tuple[int, Status] | None = None
        while True:
            snap = self.latest(session_id)
            if snap is None and last is None and await self._runs_elsewhere(session_id):
                # Nothing runs here, but a worker elsewhere may run it: followed through its
                # channel or the database, as `watch_worker` does (ends at once otherwise).
                async for elsewhere in self._watch_elsewhere(session_id, hz=hz):
                    yield elsewhere
                return
            if snap is None:
                return  # nothing runs here: the stored record is the whole story
            key = (snap.seq, snap.status)
            if key != last:
                last = key
                yield snap
            if not snap.live:
                return
            await asyncio.sleep(period)

    # commands ------------------------------------------------------------------------------
    async def create(
        self, config: CrawlConfig, *, secret_headers: dict[str, str] | None = None
    ) -> SessionRecord:
        return await self._manager.create(config, secret_headers=secret_headers)

    async def start(self, session_ref: str) -> str:
        handle = await self._manager.start(session_ref)
        self._stats[handle.session_id] = handle.stats
        return handle.session_id

    async def resume(self, session_ref: str) -> str:
        return await self.start(session_ref)

    def pause(self, session_id: str) -> bool:
        handle = self._manager.handle(session_id)
        if handle is None:
            return False
        handle.pause()
        return True

    def cancel(self, session_id: str) -> bool:
        handle = self._manager.handle(session_id)
        if handle is None:
            return False
        handle.cancel()
        return True

    def interrupt(self, session_id: str, reason: str, *, who: str | None = None) -> bool:
        handle = self._manager.handle(session_id)
        if handle is None:
            return False
        handle.interrupt(reason, who=who)
        return True

    async def wait(self, session_id: str) -> Status | None:
        handle = self._manager.handle(session_id)
        return None if handle is None else await handle.wait()

    async def dismiss(self, session_ref: str) -> SessionRecord:
        return await self._manager.dismiss(session_ref)

    async def export(
        self,
        session_ref: str,
        fmt: str,
        path: Path | None,
        *,
        keep_formulas: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        if not keep_formulas or fmt == "warc":
            return await self._manager.export(session_ref, fmt, path, progress=progress)
        # The manager's export always neutralises formulas; keeping them is the same export
        # over the same store with the option set. The id is resolved first, as there: a wrong
        # id opens (and so replaces) no output file.
        from tui_scraper.export import export_pages

        store = self._manager.store
        session_id = await store.resolve_id(session_ref)
        return await export_pages(store, session_id, fmt, path, keep_formulas=True)

    def diff(self, before_id: str, after_id: str) -> AsyncIterator[DiffEntry]:
        store = self._manager.store
        return merge_states(store.iter_page_states(before_id), store.iter_page_states(after_id))

    async def stored_text(self, state: PageState) -> list[str] | None:
        blobs = self._manager.store.blobs
        if state.storage_path is None or not isinstance(blobs, BlobReader):
            return None
        try:
            body = await asyncio.to_thread(blobs.read, state.storage_path)
        except ScraperError:  # missing or damaged content: nothing to compare
            return None
        return await asyncio.to_thread(page_text, body, state.encoding)

    async def secrets_problem(self, session: SessionRecord) -> str | None:
        names = [str(n) for n in session.config.extra.get("secret_header_names") or []]
        if not names:
            return None
        return await asyncio.to_thread(missing_secrets, self.data_dir, session.id, names)

    async def forget_secrets(self, session_id: str) -> None:
        await asyncio.to_thread(forget_secrets, self.data_dir, session_id)

    # background workers -------------------------------------------------------------------
    async def start_detached(self, session_ref: str) -> WorkerInfo:
        # Imported here: only a command that starts a worker needs the code that starts one.
        from tui_scraper.runtime.spawn import start_worker

        session = await self.get(session_ref)
        # A `running` record whose lease nobody holds is an orphan (its worker was killed):
        # the new worker settles it as interrupted and resumes it, as an in-process start does.
        worker_now = await self._worker(session.id) if session.status is Status.RUNNING else None
        orphan = session.status is Status.RUNNING and worker_now is None
        if session.status not in RESUMABLE and not orphan:
            raise NotRunnable(
                f"session {session.short_id} is {session.status.value}; only a new, paused "
                "or interrupted session can be started"
            )
        started = await start_worker(self.location, session.id)
        worker = await self._worker(session.id)
        return WorkerInfo(
            pid=started.pid,
            host=worker.host if worker else "",
            since=worker.since if worker else None,
            socket_path=started.socket_path,
            log_path=started.log_path,
        )

    def worker_of(self, session_id: str) -> WorkerInfo | None:
        """Asked from a thread (every caller runs it off the loop: it may wait on a disk or,
        for PostgreSQL, on the database, through the store on this service's loop)."""
        from . import remote

        if not self.location.is_postgres:
            return remote.worker_of(self.data_dir, session_id)
        loop = self._loop
        if loop is None:
            raise RuntimeError("worker_of before the service's loop is known")
        if _running_loop() is loop:
            # Waiting here for the loop's own answer would never end.
            raise RuntimeError("worker_of must be called off the event loop (to_thread)")
        future = asyncio.run_coroutine_threadsafe(self._worker(session_id), loop)
        return future.result(timeout=WORKER_LOOKUP_S)

    async def _worker(self, session_id: str) -> WorkerInfo | None:
        """The process holding the session's lease, asked without blocking the loop."""
        from . import remote

        self._loop = asyncio.get_running_loop()
        owner = await self._manager.lease_holder(session_id)
        return remote.worker_info(self.data_dir, session_id, owner)

    async def _runs_elsewhere(self, session_id: str) -> bool:
        """A database session (PostgreSQL) that a live worker elsewhere runs now."""
        return self.location.is_postgres and await self._worker_alive(session_id)

    async def _worker_alive(self, session_id: str) -> bool:
        return await self._worker(session_id) is not None

    async def command_worker(
        self, session_ref: str, command: str, *, reason: str | None = None
    ) -> CommandDelivery:
        if command not in WORKER_COMMANDS:
            raise ValueError(f"not a worker command: {command!r}")
        if reason is not None and command != "interrupt":
            raise ValueError(f"only interrupt takes a reason, not {command!r}")
        args = {"reason": reason} if reason is not None else None
        return await self._deliver(session_ref, WORKER_COMMANDS[command], args)

    async def tune(self, session_ref: str, tuning: Tuning) -> CommandDelivery:
        return await self._deliver(session_ref, "set", tuning.as_args())

    async def _deliver(
        self, session_ref: str, kind: CommandKind, args: dict[str, Any] | None
    ) -> CommandDelivery:
        """One command to the session's worker: over its channel, else as a control record."""
        from . import remote
        from .channel_client import CommandFailed

        session = await self.get(session_ref)
        verb = "tune" if kind == "set" else kind
        # Never on the event loop's time: a file read or a query (a UI calls this from its own).
        worker = await self._worker(session.id)
        if session.status is not Status.RUNNING or worker is None:
            raise NotRunnable(
                f"session {session.short_id} is not running (it is "
                f"{session.status.value}); there is nothing to {verb}"
            )
        try:
            ack = await remote.send_command(self.data_dir, session.id, kind, args=args)
        except CommandFailed as exc:
            raise NotRunnable(f"the worker of {session.short_id} refused: {exc.message}") from None
        except ChannelError:
            return await self._post_control(session.id, kind, args)
        return CommandDelivery("channel", str(ack.get("message") or "done"))

    async def _post_control(
        self, session_id: str, kind: CommandKind, args: dict[str, Any] | None = None
    ) -> CommandDelivery:
        """The channel is unreachable: record the command for the worker's next poll, and wait
        a little for it to say what it did."""
        store = self._manager.store
        if kind != "set":
            # The store keeps args for `set` only: an interrupt's reason travels by channel,
            # and by record the worker names who asked instead.
            args = None
        record = await store.post_control(session_id, kind, who=self._who, args=args)
        deadline = asyncio.get_running_loop().time() + CONTROL_WAIT_S
        while asyncio.get_running_loop().time() < deadline:
            current = await store.get_control(record.id)
            if not current.pending:
                return CommandDelivery("control", current.outcome, record.id)
            await asyncio.sleep(0.1)
        return CommandDelivery("control", None, record.id)

    def watch_worker(self, session_id: str) -> AsyncIterator[ProgressSnapshot]:
        from . import remote

        if not self.location.is_postgres:
            return remote.watch_worker(self.data_dir, session_id)
        return self._watch_elsewhere(session_id)

    async def _watch_elsewhere(
        self, session_id: str, *, hz: float = DEFAULT_WATCH_HZ
    ) -> AsyncIterator[ProgressSnapshot]:
        """A session in the database (PostgreSQL): over its worker's channel when one answers
        here, else from the store (another machine's worker, or joined workers only)."""
        from . import remote
        from .follow_choice import channel_answers
        from .store_follow import follow_store

        if await channel_answers(self.data_dir, session_id):
            async for snapshot in remote.watch_worker(
                self.data_dir, session_id, alive=lambda: self._worker_alive(session_id)
            ):
                yield snapshot
            return
        async for snapshot in follow_store(
            self._manager.store, self._manager.lease_holder, session_id, hz=hz
        ):
            yield snapshot

    async def interrupt_all(self, reason: str, *, who: str) -> None:
        await self._manager.interrupt_all(reason, who=who)

    async def close(self) -> None:
        await self._manager.close()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    """The loop running in this thread, or None (a worker thread: the usual case)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _conforms(service: LocalSessionService) -> None:
    """mypy checks here that the local service implements the whole Protocol."""
    from . import SessionService

    _: SessionService = service
