"""Seed a real data directory through the store's own public methods, at fixed times and ids.

The UI tests and snapshots read a real SQLite store (LocalSessionService over a temp data
dir), so prefixes, ordering, recoverability and dismiss rules are the real ones. What a
snapshot needs fixed — every timestamp and id the store stamps — comes from `frozen_store`,
which points the store's clock and id source at a `FixedClock` and a counter.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tui_scraper.backends.sqlite import Store
from tui_scraper.backends.sqlite import sessions as store_sessions
from tui_scraper.domain import CrawlConfig, PageStatus, Progress, SessionRecord, Status
from tui_scraper.domain.records import PageResult

T0 = 1_767_261_600.0  # 2026-01-01 10:00:00 UTC: every fixed timestamp counts from here
WHO = "ui"  # as the UI records itself in events


class FixedClock:
    """A clock a test moves by hand (the App's `now()`, the live stats, the store's stamps)."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def fixed_id(n: int) -> str:
    """The n-th session id: its first two digits say which, so prefixes stay readable."""
    return f"{n:02d}{'abcdef0123456789' * 2}"[:32]


@contextmanager
def frozen_store(clock: FixedClock) -> Iterator[None]:
    """While open, the store stamps records with `clock` and names sessions 01abc…, 02abc….

    The store reads the wall clock and uuid4 in its sessions module; both are replaced there
    only (monkeypatch raises if either name is gone, so a change in the store shows here).
    """
    counter = itertools.count(1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store_sessions, "time", SimpleNamespace(time=clock))
        patch.setattr(
            store_sessions,
            "uuid",
            SimpleNamespace(uuid4=lambda: SimpleNamespace(hex=fixed_id(next(counter)))),
        )
        yield


@dataclass
class Seeder:
    """Writes sessions, events and pages as a crawl would leave them, via `Store`'s methods."""

    store: Store
    clock: FixedClock
    created: list[SessionRecord] = field(default_factory=list)

    async def add(
        self,
        target_url: str,
        status: Status = Status.COMPLETED,
        *,
        progress: Progress | None = None,
        summary: dict[str, Any] | None = None,
        error: str | None = None,
        reason: str = "",
        max_pages: int | None = None,
        dismissed: bool = False,
    ) -> SessionRecord:
        """A session created at T0 - 1 h + n min, started a second later, stopped at +30 s."""
        at = T0 - 3600 + (len(self.created) + 1) * 60
        self.clock.now = at
        # Straight to the store (the manager would canonicalise or refuse a hostile URL, and a
        # hostile site's URL is exactly what some tests need on screen).
        record = await self.store.create_session(
            CrawlConfig(target_url=target_url, max_pages=max_pages), who=WHO
        )
        sid = record.id
        if status is not Status.PENDING:
            self.clock.now = at + 1
            await self.store.transition(sid, Status.RUNNING, reason="started", who=WHO)
            if progress is not None:
                await self.store.checkpoint(sid, [], progress, heartbeat=at + 29)
            if summary is not None:
                await self.store.set_summary(sid, summary)
            if status is not Status.RUNNING:
                self.clock.now = at + 30
                await self.store.transition(
                    sid, status, reason=reason or status.value, who=WHO, error=error
                )
            if dismissed:
                self.clock.now = at + 40
                await self.store.dismiss(sid, who=WHO)
        record = await self.store.get_session(sid)
        self.created.append(record)
        return record

    async def add_page(self, session_id: str, url: str, **fields: Any) -> None:
        """A settled page (done, 200, text/html unless `fields` say otherwise); the session's
        stored progress is kept as it was. The session's seed row is its target URL's page."""
        await self.add_pages(session_id, [(url, fields)])

    async def add_pages(self, session_id: str, pages: list[tuple[str, dict[str, Any]]]) -> None:
        """Many settled pages in one checkpoint, in order (ids ascending)."""
        session = await self.store.get_session(session_id)
        results = [_settled(url, fields) for url, fields in pages]
        await self.store.checkpoint(
            session_id, results, session.progress, heartbeat=session.heartbeat_at or T0
        )

    def by_status(self, status: Status) -> SessionRecord:
        return next(r for r in self.created if r.status is status)


def pin_update_times(db_path: Path, records: list[SessionRecord]) -> None:
    """Give each seeded session `last_updated` = its stop time (created + 30 s), for snapshots.

    The store stamps that column with SQLite's own clock (a trigger on every update), which no
    Python clock reaches; so, with the store closed, this one column is rewritten with the
    trigger set aside for that single transaction and then put back exactly as it was.
    """
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        (trigger_sql,) = conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?",
            (_UPDATE_TRIGGER,),
        ).fetchone()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(f"DROP TRIGGER {_UPDATE_TRIGGER}")
        conn.executemany(
            "UPDATE sessions SET last_updated = ? WHERE id = ?",
            [(r.created_at + 30, r.id) for r in records],
        )
        conn.execute(trigger_sql)
        conn.execute("COMMIT")
    finally:
        conn.close()


_UPDATE_TRIGGER = "sessions_last_updated"


def _settled(url: str, fields: dict[str, Any]) -> PageResult:
    values: dict[str, Any] = {
        "status": PageStatus.DONE,
        "attempts": 1,
        "http_status": 200,
        "content_type": "text/html",
        "encoding": "utf-8",
        "fetched_at": T0,
        "elapsed_ms": 12.0,
        "size": 2048,
    }
    values.update(fields)
    return PageResult(page_id=None, url=url, **values)


async def seed_history(seeder: Seeder) -> Seeder:
    """A small history: one of each status, with summaries, events and pages."""
    done = await seeder.add(
        "http://demo.test/",
        Status.COMPLETED,
        progress=Progress(done=120, failed=4, skipped=6, bytes=1_250_000, elapsed_s=31),
        summary={
            "pages": {"done": 120, "failed": 4, "skipped": 6},
            "status_codes": {"200": 118, "301": 2, "404": 3, "500": 1},
            "bytes": 1_250_000,
            "duration_s": 31.0,
            "pages_per_s": 4.0,
            "latency_ms": {"p50": 11.0, "p95": 40.5},
        },
    )
    await seeder.add_page(
        done.id, "http://demo.test/", title="Demo home", extracted={"h1": ["Demo"]}
    )
    await seeder.add_page(
        done.id,
        "http://demo.test/missing",
        status=PageStatus.FAILED,
        http_status=404,
        title=None,
        error={"kind": "http", "message": "404 Not Found"},
    )
    await seeder.add_page(
        done.id, "http://demo.test/private/x", status=PageStatus.SKIPPED, http_status=None
    )
    await seeder.add(
        "http://demo.test/interrupted",
        Status.INTERRUPTED,
        progress=Progress(done=40, queued=60),
        reason="SIGHUP received",
    )
    await seeder.add("http://demo.test/paused", Status.PAUSED, progress=Progress(done=10, queued=5))
    await seeder.add(
        "http://demo.test/failed", Status.FAILED, error="cancelled", reason="cancelled"
    )
    return seeder
