"""The real local service with one part scripted: the crawl engine.

`ScriptedService` is a `LocalSessionService` over a real store: every query, create, dismiss,
export and status change goes through the real SessionManager and Store (and their state
machine, prefixes and errors). Only what a running crawl would produce — pages and errors in
its live stats — is fed by the test (`feed`), and its end is chosen by the test (`finish`),
so the live screens can be checked figure by figure. The live path over a real crawl is
covered in test_service.py and test_real_manager.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from tui_scraper.domain import (
    RESUMABLE,
    CrawlConfig,
    InvalidTransition,
    PageRecord,
    PageStatus,
    SessionRecord,
    Status,
)
from tui_scraper.engine.stats import CrawlStats, RecentPage
from tui_scraper.runtime.manager import SessionManager
from tui_scraper.service import ProgressSnapshot, SessionService
from tui_scraper.service.local import LocalSessionService

from .seed import FixedClock

WHO = "ui:test"


@dataclass
class ScriptedCrawl:
    session_id: str
    stats: CrawlStats
    ended: asyncio.Future[Status]
    requests: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.ended.done()


class ScriptedService(LocalSessionService):
    def __init__(self, manager: SessionManager, clock: FixedClock) -> None:
        super().__init__(manager)
        # The real manager under the service: a test seeds and inspects the store through it.
        self.manager = manager
        self.clock = clock
        self.crawls: dict[str, ScriptedCrawl] = {}
        # The commands and paged queries the screens sent, in order (what a test asserts on).
        self.calls: list[tuple[str, object]] = []
        self._ending: set[asyncio.Task[None]] = set()

    @classmethod
    async def open_at(cls, data_dir: Path, clock: FixedClock) -> ScriptedService:
        return cls(await SessionManager.open(data_dir, who="ui"), clock)

    # recorded calls, answered by the real service ------------------------------------------
    async def create(
        self, config: CrawlConfig, *, secret_headers: dict[str, str] | None = None
    ) -> SessionRecord:
        self.calls.append(("create", config))
        if secret_headers:
            self.calls.append(("secrets", dict(secret_headers)))
        return await super().create(config, secret_headers=secret_headers)

    async def dismiss(self, session_ref: str) -> SessionRecord:
        self.calls.append(("dismiss", session_ref))
        return await super().dismiss(session_ref)

    async def export(
        self,
        session_ref: str,
        fmt: str,
        path: Path | None,
        *,
        keep_formulas: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        self.calls.append(("export", (session_ref, fmt, path)))
        return await super().export(
            session_ref, fmt, path, keep_formulas=keep_formulas, progress=progress
        )

    async def pages_after(
        self,
        session_ref: str,
        *,
        status: PageStatus | None = None,
        after_id: int = 0,
        limit: int = 200,
        search: str = "",
    ) -> list[PageRecord]:
        self.calls.append(("pages_after", (after_id, limit, search)))
        return await super().pages_after(
            session_ref, status=status, after_id=after_id, limit=limit, search=search
        )

    # scripted crawls -----------------------------------------------------------------------
    async def start(self, session_ref: str) -> str:
        self.calls.append(("start", session_ref))
        record = await self.get(session_ref)
        crawl = self.crawls.get(record.id)
        if crawl is not None and not crawl.done:
            return record.id
        if record.status not in RESUMABLE:
            raise InvalidTransition(record.id, record.status, Status.RUNNING)
        reason = "started" if record.status is Status.PENDING else "resumed"
        record = await self.manager.store.transition(
            record.id, Status.RUNNING, reason=reason, who=WHO
        )
        stats = CrawlStats(
            session_id=record.id,
            target_url=record.target_url,
            max_pages=record.config.max_pages,
            state=Status.RUNNING,
            clock=self.clock,
        )
        stats.update_progress(replace(record.progress))
        ended: asyncio.Future[Status] = asyncio.get_running_loop().create_future()
        self.crawls[record.id] = ScriptedCrawl(record.id, stats, ended)
        return record.id

    def feed(self, session_id: str, *pages: RecentPage, errors: tuple[str, ...] = ()) -> None:
        """What a crawl reports as it goes: pages finished and errors met."""
        stats = self.crawls[session_id].stats
        for page in pages:
            stats.record_page(page)
        for error in errors:
            stats.record_error(error)
        progress = replace(stats.progress)
        progress.done += sum(1 for pg in pages if pg.status == "done")
        progress.failed += sum(1 for pg in pages if pg.status == "failed")
        progress.bytes += sum(pg.size or 0 for pg in pages)
        stats.update_progress(progress)

    def finish(self, session_id: str, status: Status = Status.COMPLETED) -> None:
        self._end(session_id, status, status.value, who=WHO)

    async def settled(self) -> None:
        """Every scripted end has been written to the store."""
        while self._ending:
            await asyncio.gather(*list(self._ending))

    def _end(self, session_id: str, status: Status, reason: str, *, who: str) -> bool:
        crawl = self.crawls.get(session_id)
        if crawl is None or crawl.done or crawl.stats.state is not Status.RUNNING:
            return False
        # The live figures say it at once (a crawl's stats do too); the store follows, as the
        # crawl's final checkpoint and transition would.
        crawl.stats.set_state(status)
        task = asyncio.get_running_loop().create_task(self._record_end(crawl, status, reason, who))
        self._ending.add(task)
        task.add_done_callback(self._ending.discard)
        return True

    async def _record_end(
        self, crawl: ScriptedCrawl, status: Status, reason: str, who: str
    ) -> None:
        store = self.manager.store
        try:
            await store.checkpoint(
                crawl.session_id, [], replace(crawl.stats.progress), heartbeat=self.clock()
            )
            await store.transition(
                crawl.session_id, status, reason=reason, who=who, expected=Status.RUNNING
            )
        finally:
            crawl.ended.set_result(status)

    def running_ids(self) -> list[str]:
        return [sid for sid, crawl in self.crawls.items() if not crawl.done]

    def latest(self, session_id: str) -> ProgressSnapshot | None:
        crawl = self.crawls.get(session_id)
        if crawl is None:
            return None
        snap = crawl.stats.snapshot()
        return ProgressSnapshot.of_stats(snap, live=snap.state is Status.RUNNING)

    def pause(self, session_id: str) -> bool:
        crawl = self.crawls.get(session_id)
        if crawl is None or crawl.done:
            return False
        crawl.requests.append("pause")
        self._end(session_id, Status.PAUSED, "paused by the user", who=WHO)
        return True

    def cancel(self, session_id: str) -> bool:
        crawl = self.crawls.get(session_id)
        if crawl is None or crawl.done:
            return False
        crawl.requests.append("cancel")
        self._end(session_id, Status.FAILED, "cancelled", who=WHO)
        return True

    async def wait(self, session_id: str) -> Status | None:
        crawl = self.crawls.get(session_id)
        return None if crawl is None else await asyncio.shield(crawl.ended)

    async def interrupt_all(self, reason: str, *, who: str) -> None:
        self.calls.append(("interrupt_all", (reason, who)))
        for sid in self.running_ids():
            self._end(sid, Status.INTERRUPTED, reason, who=who)
        await self.settled()

    async def close(self) -> None:
        self.calls.append(("close", None))
        try:
            for sid in self.running_ids():
                self._end(sid, Status.INTERRUPTED, "the program was closed", who=WHO)
            await self.settled()
        finally:
            await super().close()
        self.closed = True

    closed = False


def _conforms(service: ScriptedService) -> SessionService:
    """mypy checks here that the scripted service still is a whole SessionService."""
    return service


async def record_of(service: ScriptedService, session_ref: str) -> SessionRecord:
    """The stored record, read back from the data dir once the App has closed the service."""
    if not service.closed:
        return await service.get(session_ref)
    reader = await SessionManager.open(service.data_dir, who="test", readonly=True)
    try:
        return await reader.get(session_ref)
    finally:
        await reader.close()
