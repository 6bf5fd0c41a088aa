"""SessionManager: the one door through which the CLI and the UI reach sessions and crawls.

It keeps the set of sessions running in this process; running one is `worker.SessionRunner`'s.
Each runs with the same `LiveSession` a background worker has: it serves the session's live
channel and applies the control records posted for it, so `pause`, `cancel`, `set` and `attach`
from another terminal reach a crawl running here as they reach a detached one. A channel that
cannot be served (a data dir path too long for a socket, a run/ dir that is not usable) costs
only that: a warning in the timeline and the log, and the crawl runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..backends.open import as_location, collect_leftovers, open_store
from ..backends.sqlite.secrets import save_secret_headers
from ..domain.config import CrawlConfig
from ..domain.errors import ConfigError, ScraperError
from ..domain.location import StoreLocation
from ..domain.records import EventRecord, PageRecord, SessionRecord
from ..domain.status import PageStatus, Status
from .secrets import DataDirSecrets

if TYPE_CHECKING:
    # Imported where a crawl is created or started: the engine (and with it aiohttp, httpx and
    # the parser) is most of a crawl's start-up, and commands that only look never need it.
    from ..engine.stats import CrawlStats
    from ..ports import SessionStore
    from .channel.server import ChannelServer
    from .live import LiveSession
    from .worker import SessionRunner

__all__ = ["CrawlHandle", "SessionManager"]

log = logging.getLogger(__name__)
# Watchers in other terminals get the final figures; bounded well inside the app's exit bound.
IN_PROCESS_FLUSH_S = 0.5


@dataclass
class CrawlHandle:
    """A crawl running in this process. Its `stats` is what observers sample."""

    session_id: str
    stats: CrawlStats
    _runner: SessionRunner
    _task: asyncio.Task[Status]

    def pause(self) -> None:
        self._runner.pause()

    def cancel(self) -> None:
        self._runner.cancel()

    def interrupt(self, reason: str, *, who: str | None = None) -> None:
        self._runner.interrupt(reason, who=who)

    async def wait(self) -> Status:
        return await asyncio.shield(self._task)

    @property
    def done(self) -> bool:
        return self._task.done()


class SessionManager:
    def __init__(self, store: SessionStore, location: StoreLocation, *, who: str) -> None:
        self._store = store
        self._location = location
        self._who = f"{who}:{os.getpid()}"
        self._handles: dict[str, CrawlHandle] = {}
        # None: the runner's default (worker.DEFAULT_PARSE_WORKERS); tests ask for fewer.
        self.parse_workers: int | None = None

    @classmethod
    async def open(
        cls, where: StoreLocation | Path, *, who: str = "ui", readonly: bool = False
    ) -> SessionManager:
        """The manager of the store at `where` (a data dir alone means SQLite there).
        `readonly` is for commands that only look: the store is opened read-only and nothing
        is reaped or collected, so a look never changes a byte (an orphan stays `running`
        until a process that may write opens the store)."""
        location = as_location(where)
        if readonly:
            return cls(await open_store(location, readonly=True), location, who=who)
        store = await open_store(location)
        manager = cls(store, location, who=who)
        try:
            await store.reap_orphans(who=f"{who}:{os.getpid()}")
            collect_leftovers(store)
        except BaseException:
            await store.close()
            raise
        return manager

    @property
    def data_dir(self) -> Path:
        """Where this machine keeps the logs, sockets and secrets (whatever the backend)."""
        return self._location.data_dir

    @property
    def location(self) -> StoreLocation:
        return self._location

    @property
    def store(self) -> SessionStore:
        return self._store

    async def lease_holder(self, session_id: str) -> dict[str, object] | None:
        """Who holds the session's run lease (pid, host, start, run_id), or None.

        SQLite: the lock file in the data dir, read off the loop. Elsewhere the lease lives in
        the database, so the store is asked (`lease_holder`, which every backend offers)."""
        if not self._location.is_postgres:
            from .session_files import lease_holder

            return await asyncio.to_thread(lease_holder, self.data_dir, session_id)
        ask = getattr(self._store, "lease_holder", None)
        if ask is None:
            return None
        answer = await ask(session_id)
        return dict(answer) if answer is not None else None

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
        from ..engine.extract import validate_rules
        from ..engine.urls import canonicalize

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
            await asyncio.to_thread(save_secret_headers, self.data_dir, session.id, secret_headers)
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

    async def export(
        self,
        session_ref: str,
        fmt: str,
        path: Path | None,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        from ..export import export_pages

        session_id = await self._store.resolve_id(session_ref)
        if fmt == "warc":
            from ..export_warc import export_warc, require_path

            return await export_warc(self._store, session_id, require_path(path), progress=progress)
        return await export_pages(self._store, session_id, fmt, path)

    # crawls ------------------------------------------------------------------------------
    def running(self) -> dict[str, CrawlHandle]:
        return {sid: h for sid, h in self._handles.items() if not h.done}

    def handle(self, session_id: str) -> CrawlHandle | None:
        handle = self._handles.get(session_id)
        return handle if handle is not None and not handle.done else None

    async def start(self, session_ref: str) -> CrawlHandle:
        """Run the session in this process (runtime/worker.py); returns at once with its handle."""
        from .worker import DEFAULT_PARSE_WORKERS, SessionRunner

        parse_workers = DEFAULT_PARSE_WORKERS if self.parse_workers is None else self.parse_workers

        session_id = await self._store.resolve_id(session_ref)
        existing = self.handle(session_id)
        if existing is not None:
            return existing
        runner = await SessionRunner.acquire(
            self._store,
            session_id,
            who=self._who,
            secrets=DataDirSecrets(self.data_dir),
            parse_workers=parse_workers,
        )
        task = asyncio.create_task(self._run_live(runner), name=f"crawl-{session_id[:8]}")
        handle = CrawlHandle(session_id, runner.stats, runner, task)
        self._handles[session_id] = handle
        return handle

    async def _run_live(self, runner: SessionRunner) -> Status:
        """The crawl, with its channel and control records beside it; the crawl's status."""
        from .live import LiveSession, flush_clients

        crawl = asyncio.ensure_future(runner.run())  # first: the lease is released however
        live = LiveSession(runner, self._store, who=self._who)
        try:
            live.server = await self._serve_channel(runner, live)
        except BaseException:  # cancelled while binding: the crawl stops as on any cancel
            crawl.cancel()
            with contextlib.suppress(BaseException):
                await crawl
            raise
        try:
            return await live.beside(crawl)
        finally:
            if live.server is not None:
                if live.server.connection_count:
                    await flush_clients(live.server, limit=IN_PROCESS_FLUSH_S)
                await live.server.close()

    async def _serve_channel(
        self, runner: SessionRunner, live: LiveSession
    ) -> ChannelServer | None:
        """The session's channel server, or None (warned) when it cannot be served."""
        from .channel.paths import socket_path
        from .channel.server import ChannelServer

        session_id = runner.session_id
        try:
            server = ChannelServer(
                socket_path(self.data_dir, session_id),
                live.snapshot,
                live.handle_command,
                snapshot_key=live.snapshot_key,
                session_id=session_id,
            )
            await server.start()
            return server
        except (ScraperError, OSError) as exc:
            text = (
                f"the live channel cannot be served ({exc}); the crawl runs, but other "
                "terminals reach it only by control records"
            )
            # Info, not a warning: with no handler configured a warning would be printed on
            # stderr, over the app's screen. The timeline is where it is shown.
            log.info("session %s: %s", session_id[:8], text)
            with contextlib.suppress(Exception):  # the timeline is best effort here
                await self._store.add_event(session_id, "warning", text, who=self._who)
            return None

    async def interrupt_all(self, reason: str, *, who: str) -> None:
        handles = list(self.running().values())
        for handle in handles:
            handle.interrupt(reason, who=who)
        for handle in handles:
            # On an error the session is left `running` with a dead lease: the next start
            # reaps it as interrupted.
            with contextlib.suppress(Exception):
                await handle.wait()
