"""One run of one session, from taking the lease to the final transition.

`SessionRunner.acquire` takes the lease (a second runner of a running session gets SessionBusy)
and builds the crawler; `SessionRunner.run` requeues what a dead run had claimed, crawls, writes
the summary of a completed crawl and the final transition, deletes the secrets of a final
session and releases the lease, returning the final `Status`. `run_session` is both in one call,
and `run_session_in` opens a store location for it: all a process needs to run a session on its
own, with no `SessionManager` around it.

Typed against `ports.RuntimeStore`; `run_session_in` opens the store through `backends/open.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from pathlib import Path

from ..demo.session import ServedSite, serve_for
from ..domain.errors import InvalidTransition, StorageUnavailable
from ..domain.location import StoreLocation
from ..domain.records import ControlRecord, LeaseOwner, SessionRecord
from ..domain.status import FINAL, RESUMABLE, Status
from ..domain.tuning import Tuning, describe_tunables
from ..engine.crawler import Crawler
from ..engine.faults import describe_fault, is_our_fault
from ..engine.outcome import CrawlOutcome, StopKind, describe_error
from ..engine.stats import CrawlStats
from ..engine.summary import summarise
from ..ports import RuntimeStore, SessionSecrets, SharedRuns
from .live_warc import live_warc
from .secrets import DataDirSecrets

__all__ = ["PROCESS_START", "SessionRunner", "run_session", "run_session_in"]

PROCESS_START = time.time()
# Two workers: a page that makes the parser hang (killed at its deadline) then does not hold up
# every other page for those seconds.
DEFAULT_PARSE_WORKERS = 2
# How often a joined worker reads whether its session still runs.
FOLLOW_POLL_S = 0.5
# A pause or cancel posted as a control record is the owner's to apply (it polls every second);
# one still pending this long has nobody else to apply it (the owner left), so a joined worker
# does.
CONTROL_TAKEOVER_S = 3.0


def lease_owner() -> LeaseOwner:
    """This process, for the lease: a reused pid is told apart by its start time."""
    return LeaseOwner(
        host=socket.gethostname(),
        pid=os.getpid(),
        process_start=PROCESS_START,
        run_id=uuid.uuid4().hex[:12],
    )


class SessionRunner:
    """A session this process holds the lease of; `run()` crawls it once to a stop."""

    def __init__(
        self,
        store: RuntimeStore,
        session: SessionRecord,
        *,
        who: str,
        secrets: SessionSecrets,
        crawler: Crawler,
        site: ServedSite,
        joined: bool = False,
    ) -> None:
        self.store = store
        # A worker that joined a session another worker started (PostgreSQL): it crawls and
        # commits beside the others, and moves the session's status only when it is the last.
        self.joined = joined
        self._taken_over: ControlRecord | None = None  # a pause/cancel this worker applies
        # The status another worker moved the session to while this one crawled (a shared
        # store only): the run stops, and that status is the session's outcome, not ours.
        self._moved_by_other: Status | None = None
        self.session_id = session.id
        self.crawler = crawler
        self._who = who
        self._secrets = secrets
        self._site = site
        # One tune at a time: each builds on the config the previous one left.
        self._tuning = asyncio.Lock()

    @classmethod
    async def acquire(
        cls,
        store: RuntimeStore,
        session_id: str,
        *,
        who: str,
        secrets: SessionSecrets,
        parse_workers: int = DEFAULT_PARSE_WORKERS,
    ) -> SessionRunner:
        """Take the lease of a pending, paused, interrupted or orphaned session (SessionBusy when
        another runner holds it; InvalidTransition when it is final) and prepare its crawl."""
        session = await store.get_session(session_id)
        # A `running` session is the lease's to judge: a live owner refuses (SessionBusy), a
        # dead one's session is settled as interrupted and resumed (acquire_run). A worker
        # started on its own, with no manager that reaped orphans first, relies on that.
        if session.status not in RESUMABLE and session.status is not Status.RUNNING:
            raise InvalidTransition(session_id, session.status, Status.RUNNING)
        reason = "started" if session.status is Status.PENDING else "resumed"
        # A demo session's site lived in the process that created it: serve it again for this
        # run, on the port its config records (a no-op for every other session).
        site = await serve_for(session.config)
        try:
            session = await store.acquire_run(session_id, lease_owner(), who=who, reason=reason)
        except BaseException:
            await site.close()
            raise
        try:
            crawler = await _prepare_crawler(store, session, secrets, parse_workers)
        except BaseException as exc:
            # Running, with nothing to run it (no memory for a thread, a secrets file damaged
            # since it was checked): settle it as interrupted now, resumable, and say why.
            await _abandon(store, session_id, who, exc)
            await site.close()
            raise
        return cls(store, session, who=who, secrets=secrets, crawler=crawler, site=site)

    @classmethod
    async def join(
        cls,
        store: RuntimeStore,
        session_id: str,
        *,
        who: str,
        secrets: SessionSecrets,
        parse_workers: int = DEFAULT_PARSE_WORKERS,
    ) -> SessionRunner:
        """Join a running session as one more worker (a store with SharedRuns only;
        InvalidTransition when nobody runs it)."""
        if not isinstance(store, SharedRuns):
            raise InvalidTransition(session_id, None, Status.RUNNING)
        session = await store.join_run(session_id, lease_owner(), who=who)
        try:
            crawler = await _prepare_crawler(store, session, secrets, parse_workers)
        except BaseException:
            await store.release_run(session_id)
            raise
        return cls(
            store,
            session,
            who=who,
            secrets=secrets,
            crawler=crawler,
            site=ServedSite(None),
            joined=True,
        )

    @property
    def stats(self) -> CrawlStats:
        """The live figures observers sample (updated by the crawl as it goes)."""
        return self.crawler.stats

    # control ------------------------------------------------------------------------------
    def request_stop(self, kind: StopKind, reason: str, *, who: str | None = None) -> None:
        """Ask the run to stop (the first request wins); `run()` then returns its status."""
        self.crawler.request_stop(kind, reason, who=who)

    def pause(self) -> None:
        self.request_stop("pause", "paused by the user")

    def cancel(self) -> None:
        self.request_stop("cancel", "cancelled")

    def interrupt(self, reason: str, *, who: str | None = None) -> None:
        self.request_stop("interrupt", reason, who=who)

    async def tune(self, tuning: Tuning, *, who: str) -> str:
        """Live tuning: store the changed config with its timeline event (one transaction, so a
        resume crawls with it), then apply it to the running crawl. Returns what now applies.
        StorageUnavailable when it could not be stored: then nothing changed."""
        async with self._tuning:
            config = tuning.applied_to(self.crawler.config)
            await self.store.record_tuning(
                self.session_id, config, reason=f"tuned by {who}: {tuning.describe()}", who=who
            )
            note = self.crawler.tune(config)
        applies = f"now {describe_tunables(config)}"
        return f"{applies} ({note})" if note else applies

    # the run ------------------------------------------------------------------------------
    async def run(self) -> Status:
        """Crawl to a stop and record it; the lease is released and the demo site stopped
        however this ends."""
        return await self._site.serving(self._run())

    async def _run(self) -> Status:
        started = time.monotonic()
        # Every worker of a shared session follows its status, the owner too: a joined worker
        # may apply a pause the owner had not applied yet, and the owner must stop for it.
        shared_store = isinstance(self.store, SharedRuns)
        watch = asyncio.create_task(self._follow_session()) if shared_store else None
        try:
            if not self.joined:  # a joined worker never touches the live workers' claims
                await self._repair_frontier()
            outcome = await self._crawl()
            shared = self.store if isinstance(self.store, SharedRuns) else None
            while shared is not None and outcome.status is Status.COMPLETED:
                verdict = await shared.conclude_run(self.session_id)
                if verdict == "leave":
                    return await self._leave(Status.RUNNING)
                if verdict == "finish":
                    break
                outcome = await self._crawl()
            if self.joined and self._taken_over is not None:
                return await self._apply_taken_over(outcome)
            if self._moved_by_other is not None and outcome.status is not Status.COMPLETED:
                # Stopped because another worker moved the session (a pause it applied): that
                # is the session's status; a transition of ours could only be refused, or
                # worse, end a run someone started since.
                return await self._ended_as(self._moved_by_other)
            if self.joined and outcome.status is not Status.COMPLETED:
                # Stopped on its own (a signal, the session paused or cancelled by another
                # worker, its lease lost): the session is the others' to move.
                return await self._leave(outcome.status)
            if outcome.status is Status.COMPLETED:
                outcome = await self._store_summary(started)
            return await self._settle(outcome)
        finally:
            if watch is not None:
                watch.cancel()
                with contextlib.suppress(BaseException):
                    await watch
            await self.store.release_run(self.session_id)

    async def _crawl(self) -> CrawlOutcome:
        try:
            async with live_warc(self.store, self.session_id, self.crawler, joined=self.joined):
                return await self.crawler.run()
        except asyncio.CancelledError:
            return CrawlOutcome(Status.INTERRUPTED, "the crawl task was cancelled")
        except Exception as exc:
            if is_our_fault(exc):  # out of memory, disk, ...: resumable (engine/faults.py)
                return CrawlOutcome(Status.INTERRUPTED, "error", describe_fault(exc))
            return CrawlOutcome(Status.FAILED, "error", f"{type(exc).__name__}: {exc}")

    async def _leave(self, status: Status) -> Status:
        """A joined worker's end: its results are committed and its claims go back to the
        queue with its worker row (release_run); the session's status is left as it is."""
        self.stats.set_state(status)
        return status

    async def _follow_session(self) -> None:
        """A joined worker stops when the session stops running (paused, cancelled or
        interrupted by another worker or by the user): it polls the session's status, and
        applies a pause or cancel record nobody else applied in time."""
        while True:
            await asyncio.sleep(FOLLOW_POLL_S)
            try:
                session = await self.store.get_session(self.session_id)
                if session.status is not Status.RUNNING:
                    self._moved_by_other = session.status
                    self.interrupt(f"the session is {session.status.value}", who="worker")
                    return
                # The owner applies its own control records (its LiveSession); only a joined
                # worker takes over one the owner left pending.
                record = await self._unapplied_stop() if self.joined else None
            except StorageUnavailable:
                continue
            if record is not None:
                self._taken_over = record
                kind: StopKind = "pause" if record.command == "pause" else "cancel"
                self.request_stop(kind, f"{record.command} by {record.who}", who=record.who)
                return

    async def _unapplied_stop(self) -> ControlRecord | None:
        now = time.time()
        for record in await self.store.pending_controls(self.session_id):
            if record.command in ("pause", "cancel"):
                return record if now - record.requested_at >= CONTROL_TAKEOVER_S else None
        return None

    async def _apply_taken_over(self, outcome: CrawlOutcome) -> Status:
        """The pause or cancel this joined worker took over: the session's transition (a
        compare-and-set: another worker may have made it first), then the record applied."""
        record = self._taken_over
        assert record is not None
        with contextlib.suppress(InvalidTransition):
            await self.store.transition(
                self.session_id,
                outcome.status,
                reason=outcome.reason,
                who=outcome.who or self._who,
                expected=Status.RUNNING,
                error=outcome.error,
            )
        await self.store.mark_control_applied(record.id, outcome=f"{outcome.status.value}")
        return await self._leave(outcome.status)

    async def _repair_frontier(self) -> None:
        """What an earlier run left behind: rows it had claimed (it died or stopped mid-batch)
        go back to the queue, and done pages whose stored content is gone are fetched again."""
        await self.store.requeue_fetching(self.session_id)
        lost = await self.store.requeue_lost_content(self.session_id)
        if lost:
            text = f"{lost} stored page(s) had lost their content; fetching again"
            self.stats.record_error(text)
            try:
                await self.store.add_event(self.session_id, "repair", text, who="crawler")
            except Exception as exc:  # the timeline is best effort; the crawl's data is not
                self.stats.record_error(f"could not record repair: {describe_fault(exc)}")

    async def _settle(self, outcome: CrawlOutcome) -> Status:
        """The final transition, and the end of a final session's secrets."""
        session_id = self.session_id
        stats = self.stats
        reason = outcome.error if outcome.error and outcome.reason == "error" else outcome.reason
        try:
            await self.store.transition(
                session_id,
                outcome.status,
                reason=reason,
                who=outcome.who or self._who,
                expected=Status.RUNNING,
                error=outcome.error,
            )
        except InvalidTransition:
            # Another worker of a shared session settled it first (a joined worker applied a
            # pause or cancel this one was applying too, or this run stopped because it did):
            # the session is where it should be, and that is not an error of this run.
            settled = await self._settled_by_other()
            if settled is None:
                raise
            return await self._ended_as(settled)
        except (StorageUnavailable, MemoryError) as exc:
            # Even the final transition could not be written (disk full, lock held past the
            # bound, no memory): the session stays `running` under a lease that dies with us,
            # and the next start settles it as interrupted. Resumable either way.
            text = describe_fault(exc)
            stats.record_error(text)
            stats.set_state(Status.INTERRUPTED)
            if isinstance(exc, StorageUnavailable):
                raise
            raise StorageUnavailable(f"could not record the outcome: {text}") from None
        return await self._ended_as(outcome.status)

    async def _ended_as(self, status: Status) -> Status:
        self.stats.set_state(status)
        if status in FINAL:
            # A final session is never resumed: its secret headers have no use any more.
            await self._secrets.delete(self.session_id)
        return status

    async def _settled_by_other(self) -> Status | None:
        """The status another worker moved the session to (it no longer runs), or None when
        it still runs (this store lost its lease: the new owner's run is not ours to end)."""
        if not isinstance(self.store, SharedRuns):
            return None
        current = (await self.store.get_session(self.session_id)).status
        return None if current is Status.RUNNING else current

    async def _store_summary(self, started: float) -> CrawlOutcome:
        """The summary of a completed crawl. Its duration is the one the live figures ended on,
        so the summary's pages/s and the final progress line agree."""
        crawler = self.crawler
        duration = crawler.stats.progress.elapsed_s or (
            crawler.previous_elapsed_s + (time.monotonic() - started)
        )
        try:
            summary = await summarise(self.store.iter_pages(self.session_id), duration_s=duration)
            await self.store.set_summary(self.session_id, summary)
        except StorageUnavailable as exc:
            # Our fault, not the crawl's: stop resumably; a resume finds nothing left to fetch
            # and completes, writing the summary then.
            return CrawlOutcome(Status.INTERRUPTED, "error", str(exc))
        return CrawlOutcome(Status.COMPLETED, "frontier exhausted")


async def _prepare_crawler(
    store: RuntimeStore, session: SessionRecord, secrets: SessionSecrets, parse_workers: int
) -> Crawler:
    stats = CrawlStats(
        session_id=session.id,
        target_url=session.target_url,
        max_pages=session.config.max_pages,
        state=Status.RUNNING,
    )
    stats.update_progress(session.progress)
    return Crawler(
        store=store,
        session_id=session.id,
        config=session.config,
        stats=stats,
        previous_elapsed_s=session.progress.elapsed_s,
        parse_workers=parse_workers,
        secret_headers=await secrets.load(session.id),
    )


async def _abandon(store: RuntimeStore, session_id: str, who: str, exc: BaseException) -> None:
    """A run that could not start after taking the lease: interrupted, lease released. If even
    that cannot be written, the released lease lets the next start settle it the same way."""
    text = describe_fault(exc) if is_our_fault(exc) else describe_error(exc)
    with contextlib.suppress(Exception):
        await store.transition(
            session_id,
            Status.INTERRUPTED,
            reason=text,
            who=who,
            expected=Status.RUNNING,
            error=text,
        )
    await store.release_run(session_id)


async def run_session(
    store: RuntimeStore,
    session_id: str,
    *,
    who: str,
    secrets: SessionSecrets,
    parse_workers: int = DEFAULT_PARSE_WORKERS,
) -> Status:
    """Run one session to a stop (completed, paused, interrupted, failed) and return it."""
    runner = await SessionRunner.acquire(
        store, session_id, who=who, secrets=secrets, parse_workers=parse_workers
    )
    return await runner.run()


async def run_session_in(
    where: StoreLocation | Path,
    session_id: str,
    *,
    who: str = "worker",
    parse_workers: int = DEFAULT_PARSE_WORKERS,
) -> Status:
    """`run_session` over the store at `where` (a data dir alone: SQLite there), opened and
    closed here."""
    from ..backends.open import as_location, open_store

    location = as_location(where)
    opened = await open_store(location)
    try:
        # Typed as the port: mypy proves here that what the opener returns is a RuntimeStore.
        store: RuntimeStore = opened
        return await run_session(
            store,
            session_id,
            who=f"{who}:{os.getpid()}",
            secrets=DataDirSecrets(location.data_dir),
            parse_workers=parse_workers,
        )
    finally:
        await opened.close()
