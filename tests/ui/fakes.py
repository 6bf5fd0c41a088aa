"""An in-memory stand-in for SessionManager (same contract as MANAGER_API.py.txt).

It lets screens be driven with exact, hostile and time-fixed data: fixed ids and timestamps
for snapshots, titles full of markup and escape sequences for the injection tests. Crawls
never run; a test moves them with `feed()` / `finish()`.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

from tui_scraper.domain import (
    RESUMABLE,
    ConfigError,
    CrawlConfig,
    EventRecord,
    InvalidTransition,
    PageRecord,
    PageStatus,
    Progress,
    SessionNotFound,
    SessionRecord,
    Status,
)
from tui_scraper.engine.stats import CrawlStats, RecentPage

T0 = 1_767_261_600.0  # 2026-01-01 10:00:00 UTC: every fixed timestamp counts from here


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeHandle:
    def __init__(self, manager: FakeManager, record: SessionRecord) -> None:
        self.session_id = record.id
        self.manager = manager
        self.stats = CrawlStats(
            session_id=record.id,
            target_url=record.target_url,
            max_pages=record.config.max_pages,
            state=Status.RUNNING,
            clock=manager.clock,
        )
        self.stats.update_progress(replace(record.progress))
        self._future: asyncio.Future[Status] = asyncio.get_running_loop().create_future()
        self.requests: list[str] = []

    def pause(self) -> None:
        self.requests.append("pause")
        self._end(Status.PAUSED, "paused by the user")

    def cancel(self) -> None:
        self.requests.append("cancel")
        self._end(Status.FAILED, "cancelled")

    def interrupt(self, reason: str) -> None:
        self.requests.append(f"interrupt:{reason}")
        self._end(Status.INTERRUPTED, reason)

    def _end(self, status: Status, reason: str, who: str = "ui") -> None:
        if self._future.done():
            return
        self.manager._transition(self.session_id, status, reason, who=who)
        self.manager._set(self.session_id, progress=replace(self.stats.progress))
        self.stats.set_state(status)
        self._future.set_result(status)

    async def wait(self) -> Status:
        return await asyncio.shield(self._future)

    @property
    def done(self) -> bool:
        return self._future.done()


class FakeManager:
    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.sessions: dict[str, SessionRecord] = {}
        self.event_log: dict[str, list[EventRecord]] = {}
        self.page_rows: dict[str, list[PageRecord]] = {}
        self.handles: dict[str, FakeHandle] = {}
        self.calls: list[tuple[str, object]] = []
        self.closed = False
        self._next = 0
        self.data_dir: Path | None = None  # the real manager's data dir (screenshots go there)

    # --- seeding --------------------------------------------------------------------------

    def add(
        self,
        target_url: str,
        status: Status = Status.COMPLETED,
        *,
        progress: Progress | None = None,
        summary: dict[str, object] | None = None,
        error: str | None = None,
        reason: str = "",
        max_pages: int | None = None,
        dismissed: bool = False,
        session_id: str | None = None,
    ) -> SessionRecord:
        self._next += 1
        sid = session_id or f"{self._next:02d}{'abcdef0123456789' * 2}"[:32]
        at = T0 - 3600 + self._next * 60
        record = SessionRecord(
            id=sid,
            target_url=target_url,
            status=status,
            config=CrawlConfig(target_url=target_url, max_pages=max_pages),
            progress=progress or Progress(),
            summary=summary,
            error=error,
            created_at=at,
            start_time=at + 1 if status is not Status.PENDING else None,
            end_time=at + 30 if status in (Status.COMPLETED, Status.FAILED) else None,
            last_updated=at + 30,
            lease_owner=None,
            heartbeat_at=at + 29 if status is not Status.PENDING else None,
            dismissed_at=at + 40 if dismissed else None,
        )
        self.sessions[sid] = record
        self.event_log[sid] = [self._event(sid, at, "created", None, None, "created", "ui")]
        if status is not Status.PENDING:
            self.event_log[sid].append(
                self._event(sid, at + 1, "transition", Status.PENDING, Status.RUNNING, "started")
            )
        if status not in (Status.PENDING, Status.RUNNING):
            self.event_log[sid].append(
                self._event(sid, at + 30, "transition", Status.RUNNING, status, reason or status)
            )
        self.page_rows[sid] = []
        return record

    def add_page(self, session_id: str, url: str, **fields: object) -> PageRecord:
        rows = self.page_rows[session_id]
        defaults: dict[str, object] = {
            "id": len(rows) + 1,
            "session_id": session_id,
            "url": url,
            "depth": 0,
            "status": PageStatus.DONE,
            "attempts": 1,
            "next_attempt_at": None,
            "http_status": 200,
            "content_type": "text/html",
            "encoding": "utf-8",
            "content_hash": None,
            "storage_path": None,
            "title": None,
            "extracted": None,
            "error": None,
            "fetched_at": T0,
            "elapsed_ms": 12.0,
            "size": 2048,
            "parent_id": None,
        }
        defaults.update(fields)
        page = PageRecord(**defaults)  # type: ignore[arg-type]
        rows.append(page)
        return page

    def _event(
        self,
        sid: str,
        at: float,
        kind: str,
        before: Status | None,
        after: Status | None,
        reason: str,
        who: str = "ui",
    ) -> EventRecord:
        return EventRecord(
            id=sum(len(v) for v in self.event_log.values()) + 1,
            session_id=sid,
            at=at,
            kind=kind,
            from_status=before,
            to_status=after,
            reason=reason,
            who=who,
        )

    def _set(self, sid: str, **changes: object) -> SessionRecord:
        record = replace(self.sessions[sid], **changes)  # type: ignore[arg-type]
        self.sessions[sid] = record
        return record

    def _transition(self, sid: str, status: Status, reason: str, *, who: str = "ui") -> None:
        before = self.sessions[sid].status
        self.event_log[sid].append(
            self._event(sid, self.clock(), "transition", before, status, reason, who)
        )
        self._set(sid, status=status, last_updated=self.clock())

    # --- driving crawls -------------------------------------------------------------------

    def feed(self, session_id: str, *pages: RecentPage, errors: tuple[str, ...] = ()) -> None:
        stats = self.handles[session_id].stats
        for page in pages:
            stats.record_page(page)
        for error in errors:
            stats.record_error(error)
        p = replace(stats.progress)
        p.done += sum(1 for pg in pages if pg.status == "done")
        p.failed += sum(1 for pg in pages if pg.status == "failed")
        p.bytes += sum(pg.size or 0 for pg in pages)
        stats.update_progress(p)

    def finish(self, session_id: str, status: Status = Status.COMPLETED) -> None:
        self.handles[session_id]._end(status, status.value)

    # --- the contract ---------------------------------------------------------------------

    async def close(self) -> None:
        self.calls.append(("close", None))
        await self.interrupt_all("the program was closed", who="ui")
        self.closed = True

    async def create(
        self, config: CrawlConfig, *, secret_headers: dict[str, str] | None = None
    ) -> SessionRecord:
        self.calls.append(("create", config))
        if secret_headers:
            self.calls.append(("secrets", dict(secret_headers)))
        config.validate()
        for rule in config.extract:
            if rule.css.startswith("!!"):
                raise ConfigError("extract", f"bad CSS selector {rule.css!r}")
        record = self.add(config.target_url, Status.PENDING)
        return self._set(record.id, config=config)

    async def start(self, session_ref: str) -> FakeHandle:
        self.calls.append(("start", session_ref))
        record = await self.get(session_ref)
        existing = self.handle(record.id)
        if existing is not None:
            return existing
        if record.status not in RESUMABLE:
            raise InvalidTransition(record.id, record.status, Status.RUNNING)
        self._transition(record.id, Status.RUNNING, "resumed" if record.start_time else "started")
        self._set(record.id, dismissed_at=None)
        handle = FakeHandle(self, self.sessions[record.id])
        self.handles[record.id] = handle
        return handle

    def running(self) -> dict[str, FakeHandle]:
        return {sid: h for sid, h in self.handles.items() if not h.done}

    def handle(self, session_id: str) -> FakeHandle | None:
        handle = self.handles.get(session_id)
        return handle if handle is not None and not handle.done else None

    async def list_sessions(self) -> list[SessionRecord]:
        return sorted(self.sessions.values(), key=lambda r: r.created_at, reverse=True)

    async def get(self, session_ref: str) -> SessionRecord:
        matches = [sid for sid in self.sessions if sid.startswith(session_ref)]
        if len(matches) != 1:
            raise SessionNotFound(session_ref)
        return self.sessions[matches[0]]

    async def events(self, session_ref: str) -> list[EventRecord]:
        return list(self.event_log[(await self.get(session_ref)).id])

    async def recoverable(self) -> list[SessionRecord]:
        return [
            r
            for r in await self.list_sessions()
            if r.status in (Status.INTERRUPTED, Status.PAUSED) and r.dismissed_at is None
        ]

    async def dismiss(self, session_ref: str) -> SessionRecord:
        self.calls.append(("dismiss", session_ref))
        record = await self.get(session_ref)
        return self._set(record.id, dismissed_at=self.clock())

    async def pages(
        self, session_ref: str, *, status: PageStatus | None = None, limit: int = 500
    ) -> list[PageRecord]:
        rows = self.page_rows[(await self.get(session_ref)).id]
        return [p for p in rows if status is None or p.status == status][:limit]

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
        rows = self.page_rows[(await self.get(session_ref)).id]
        needle = search.casefold()
        return [
            p
            for p in rows
            if p.id > after_id
            and (status is None or p.status == status)
            and (not needle or needle in p.url.casefold() or needle in (p.title or "").casefold())
        ][:limit]

    async def page_counts(self, session_ref: str) -> dict[PageStatus, int]:
        counts = dict.fromkeys(PageStatus, 0)
        for page in self.page_rows[(await self.get(session_ref)).id]:
            counts[page.status] += 1
        return counts

    async def export(self, session_ref: str, fmt: str, path: Path) -> int:
        self.calls.append(("export", (session_ref, fmt, path)))
        rows = await self.pages(session_ref)
        path.write_text("".join(json.dumps({"url": p.url}) + "\n" for p in rows))
        return len(rows)

    async def interrupt_all(self, reason: str, *, who: str) -> None:
        self.calls.append(("interrupt_all", (reason, who)))
        for handle in list(self.running().values()):
            handle._end(Status.INTERRUPTED, reason, who=who)
