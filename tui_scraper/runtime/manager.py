"""SessionManager: the one door through which the CLI and the UI reach sessions and crawls."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..backends.sqlite import StorageUnavailable, Store
from ..backends.sqlite.secrets import (
    delete_secret_headers,
    load_secret_headers,
    save_secret_headers,
)
from ..domain.config import CrawlConfig
from ..domain.errors import ConfigError, InvalidTransition
from ..domain.records import EventRecord, LeaseOwner, PageRecord, SessionRecord
from ..domain.status import FINAL, RESUMABLE, PageStatus, Status
from ..engine.crawler import Crawler, CrawlOutcome
from ..engine.extract import validate_rules
from ..engine.faults import describe_fault, is_our_fault
from ..engine.stats import CrawlStats
from ..engine.summary import summarise
from ..engine.urls import canonicalize

PROCESS_START = time.time()


@dataclass
class CrawlHandle:
    """A crawl running in this process. Its `stats` is what observers sample."""

    session_id: str
    stats: CrawlStats
    _crawler: Crawler
    _task: asyncio.Task[Status]

    def pause(self) -> None:
        self._crawler.request_stop("pause", "paused by the user")

    def cancel(self) -> None:
        self._crawler.request_stop("cancel", "cancelled")

    def interrupt(self, reason: str, *, who: str | None = None) -> None:
        self._crawler.request_stop("interrupt", reason, who=who)

    async def wait(self) -> Status:
        return await asyncio.shield(self._task)

    @property
    def done(self) -> bool:
        return self._task.done()


class SessionManager:
    def __init__(self, store: Store, *, who: str) -> None:
        self._store = store
        self._who = f"{who}:{os.getpid()}"
        self._handles: dict[str, CrawlHandle] = {}
        # Two workers: a page that makes the parser hang (killed at its deadline) then does not
        # hold up every other page for those seconds.
        self.parse_workers = 2

    @classmethod
    async def open(
        cls, data_dir: Path, *, who: str = "ui", readonly: bool = False
    ) -> SessionManager:
        """The manager of `data_dir`. `readonly` is for commands that only look: the store is
        opened read-only and nothing is reaped or collected, so a look never changes a byte
        (an orphan stays `running` until a process that may write opens the dir)."""
        if readonly:
            return cls(await Store.open(data_dir, readonly=True), who=who)
        store = await Store.open(data_dir)
        manager = cls(store, who=who)
        try:
            await store.reap_orphans(who=f"{who}:{os.getpid()}")
            store.blobs.gc_tmp()
        except BaseException:
            await store.close()
            raise
        return manager

    @property
    def data_dir(self) -> Path:
        return self._store.data_dir

    @property
    def store(self) -> Store:
        return self._store

    async def close(self) -> None:
        try:
            await self.interrupt_all("the program was closed", who=self._who)
        finally:
            await self._store.close()

    # sessions ----------------------------------------------------------------------------
    async def create(
        self, config: CrawlConfig, *, secret_headers: dict[str, str] | None = None
    ) -> SessionRecord:
        """Validate and store a new session. Secret header values go to a 0600 file beside the
        database, never into it; the config records only their names."""
        config.validate()
        validate_rules(config.extract)
        canonical = canonicalize(config.target_url)
        if canonical is None:
            raise ConfigError("url", f"{config.target_url!r} cannot be crawled")
        # The seed is stored canonical, so links back to it are recognised as the same page.
        config = config.with_changes(target_url=canonical)
        if secret_headers:
            extra = dict(config.extra)
            extra["secret_header_names"] = sorted(secret_headers)
            config = config.with_changes(extra=extra)
        session = await self._store.create_session(config, who=self._who)
        if secret_headers:
            await asyncio.to_thread(
                save_secret_headers, self._store.data_dir, session.id, secret_headers
            )
        return session

    async def list_sessions(self) -> list[SessionRecord]:
        return await self._store.list_sessions()

    async def get(self, session_ref: str) -> SessionRecord:
        return await self._store.get_session(await self._store.resolve_id(session_ref))

    async def events(self, session_ref: str) -> list[EventRecord]:
        return await self._store.events(await self._store.resolve_id(session_ref))

    async def recoverable(self) -> list[SessionRecord]:
        return await self._store.find_recoverable()

    async def dismiss(self, session_ref: str) -> SessionRecord:
        session_id = await self._store.resolve_id(session_ref)
        return await self._store.dismiss(session_id, who=self._who)

    async def pages(
        self, session_ref: str, *, status: PageStatus | None = None, limit: int = 500
    ) -> list[PageRecord]:
        session_id = await self._store.resolve_id(session_ref)
        out: list[PageRecord] = []
        async for page in self._store.iter_pages(session_id, status=status):
            out.append(page)
            if len(out) >= limit:
                break
        return out

    async def pages_after(
        self,
        session_ref: str,
        *,
        status: PageStatus | None = None,
        after_id: int = 0,
        limit: int = 200,
        search: str = "",
    ) -> list[PageRecord]:
        """One screen of pages in id order after `after_id` (keyset: cost bounded by `limit`)."""
        session_id = await self._store.resolve_id(session_ref)
        return await self._store.pages_after(
            session_id, status=status, after_id=after_id, limit=limit, search=search
        )

    async def page_counts(self, session_ref: str) -> dict[PageStatus, int]:
        return await self._store.page_counts(await self._store.resolve_id(session_ref))

    async def export(self, session_ref: str, fmt: str, path: Path | None) -> int:
        from ..export import export_pages

        session_id = await self._store.resolve_id(session_ref)
        return await export_pages(self._store, session_id, fmt, path)

    # crawls ------------------------------------------------------------------------------
    def running(self) -> dict[str, CrawlHandle]:
        return {sid: h for sid, h in self._handles.items() if not h.done}

    def handle(self, session_id: str) -> CrawlHandle | None:
        handle = self._handles.get(session_id)
        return handle if handle is not None and not handle.done else None

    async def start(self, session_ref: str) -> CrawlHandle:
        session_id = await self._store.resolve_id(session_ref)
        existing = self.handle(session_id)
        if existing is not None:
            return existing
        session = await self._store.get_session(session_id)
        if session.status not in RESUMABLE:
            raise InvalidTransition(session_id, session.status, Status.RUNNING)
        owner = LeaseOwner(
            host=socket.gethostname(),
            pid=os.getpid(),
            process_start=PROCESS_START,
            run_id=uuid.uuid4().hex[:12],
        )
        reason = "started" if session.status is Status.PENDING else "resumed"
        # A demo session's site lived in the process that created it: serve it again for this
        # run, on the port its config records (a no-op for every other session).
        from ..demo.session import serve_for

        site = await serve_for(session.config)
        try:
            session = await self._store.acquire_run(session_id, owner, who=self._who, reason=reason)
        except BaseException:
            await site.close()
            raise
        stats = CrawlStats(
            session_id=session_id,
            target_url=session.target_url,
            max_pages=session.config.max_pages,
            state=Status.RUNNING,
        )
        stats.update_progress(session.progress)
        crawler = Crawler(
            store=self._store,
            session_id=session_id,
            config=session.config,
            stats=stats,
            data_dir=self._store.data_dir,
            previous_elapsed_s=session.progress.elapsed_s,
            parse_workers=self.parse_workers,
            secret_headers=await asyncio.to_thread(
                load_secret_headers, self._store.data_dir, session_id
            ),
        )
        task = asyncio.create_task(
            site.serving(self._run(crawler, stats)), name=f"crawl-{session_id[:8]}"
        )
        handle = CrawlHandle(session_id, stats, crawler, task)
        self._handles[session_id] = handle
        return handle

    async def _run(self, crawler: Crawler, stats: CrawlStats) -> Status:
        session_id = crawler.session_id
        started = time.monotonic()
        try:
            try:
                outcome = await crawler.run()
            except asyncio.CancelledError:
                outcome = CrawlOutcome(Status.INTERRUPTED, "the crawl task was cancelled")
            except Exception as exc:
                if is_our_fault(exc):  # out of memory, disk, ...: resumable (crawl/faults.py)
                    outcome = CrawlOutcome(Status.INTERRUPTED, "error", describe_fault(exc))
                else:
                    outcome = CrawlOutcome(Status.FAILED, "error", f"{type(exc).__name__}: {exc}")
            if outcome.status is Status.COMPLETED:
                outcome = await self._store_summary(crawler, started)
            reason = (
                outcome.error if outcome.error and outcome.reason == "error" else outcome.reason
            )
            try:
                await self._store.transition(
                    session_id,
                    outcome.status,
                    reason=reason,
                    who=outcome.who or self._who,
                    expected=Status.RUNNING,
                    error=outcome.error,
                )
            except (StorageUnavailable, MemoryError) as exc:
                # Even the final transition could not be written (disk full, lock held past
                # the bound, no memory): the session stays `running` under a lease that dies
                # with us, and the next start settles it as interrupted. Resumable either way.
                text = describe_fault(exc)
                stats.record_error(text)
                stats.set_state(Status.INTERRUPTED)
                if isinstance(exc, StorageUnavailable):
                    raise
                raise StorageUnavailable(f"could not record the outcome: {text}") from None
            stats.set_state(outcome.status)
            if outcome.status in FINAL:
                # A final session is never resumed: its secret headers have no use any more.
                await asyncio.to_thread(delete_secret_headers, self._store.data_dir, session_id)
            return outcome.status
        finally:
            await self._store.release_run(session_id)

    async def _store_summary(self, crawler: Crawler, started: float) -> CrawlOutcome:
        """The summary of a completed crawl. Its duration is the one the live figures ended on,
        so the summary's pages/s and the final progress line agree."""
        duration = crawler.stats.progress.elapsed_s or (
            crawler.previous_elapsed_s + (time.monotonic() - started)
        )
        try:
            summary = await summarise(
                self._store.iter_pages(crawler.session_id), duration_s=duration
            )
            await self._store.set_summary(crawler.session_id, summary)
        except StorageUnavailable as exc:
            # Our fault, not the crawl's: stop resumably; a resume finds nothing left to fetch
            # and completes, writing the summary then.
            return CrawlOutcome(Status.INTERRUPTED, "error", str(exc))
        return CrawlOutcome(Status.COMPLETED, "frontier exhausted")

    async def interrupt_all(self, reason: str, *, who: str) -> None:
        handles = list(self.running().values())
        for handle in handles:
            handle.interrupt(reason, who=who)
        for handle in handles:
            # On an error the session is left `running` with a dead lease: the next start
            # reaps it as interrupted.
            with contextlib.suppress(Exception):
                await handle.wait()
