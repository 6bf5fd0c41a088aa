"""The per-host queue on the Analytics tab (Pilot) and the cache that keeps a live tab from
scanning the waiting pages more often than every HOST_QUEUE_REFRESH_S."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from textual.widgets import DataTable

from tests.ui.conftest import make_app
from tests.ui.scripted import ScriptedService
from tests.ui.seed import T0, Seeder
from tui_scraper.domain import Progress, Status
from tui_scraper.service.analytics import HOST_QUEUE_REFRESH_S, HostQueueCache

from .seeding import seed_analytics
from .test_analytics_tab import _open


def _queue(db_path: Path, session_id: str, urls: list[str]) -> None:
    """Waiting pages, as a paused crawl leaves its frontier."""
    conn = sqlite3.connect(db_path)
    try:
        with conn:
            conn.executemany(
                "INSERT INTO pages (session_id, url, depth, status) VALUES (?, ?, 1, 'queued')",
                [(session_id, url) for url in urls],
            )
    finally:
        conn.close()


def _column(table: DataTable[Any], key: str) -> dict[str, str]:
    index = [str(c.key.value) for c in table.ordered_columns].index(key)
    return {
        str(row[0]): str(row[index])
        for row in (table.get_row_at(i) for i in range(table.row_count))
    }


async def test_the_host_table_has_a_queue_column_at_80x24(
    service: ScriptedService, seeder: Seeder
) -> None:
    record = await seeder.add("http://demo.test/", Status.PAUSED, progress=Progress(done=5))
    db = service.manager.store.db_path
    seed_analytics(db, record.id, T0 - 3000)
    _queue(db, record.id, [f"http://demo.test/q{i}" for i in range(7)])
    # A host with nothing fetched yet, only waiting pages, is listed too.
    _queue(db, record.id, [f"http://late.test:8080/q{i}" for i in range(1234)])
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(pilot, app, record.id)
        hosts = screen.query_one("#analytics-hosts", DataTable)
        assert str(hosts.ordered_columns[4].label) == "Queue"
        queue = _column(hosts, "queued")
        # The seed's row never settled here: it waits too.
        assert queue["demo.test"] == "8" and queue["late.test:8080"] == "1,234"
        assert all(n == "0" for host, n in queue.items() if not host.endswith(".test:8080")
                   and host != "demo.test")  # fmt: skip
        # Every column fits in 80 cells: the last one's right edge is on screen.
        assert sum(c.get_render_width(hosts) for c in hosts.ordered_columns) <= 80


class _CountingStore:
    def __init__(self) -> None:
        self.scans = 0

    async def queued_by_host(self, session_id: str, limit: int = 50) -> dict[str, int]:
        self.scans += 1
        return {"a.test": self.scans}


async def test_a_running_sessions_queue_is_scanned_at_most_every_refresh_interval() -> None:
    now = [0.0]
    cache = HostQueueCache(clock=lambda: now[0])
    store = _CountingStore()
    assert await cache.get(store, "s", running=True) == {"a.test": 1}  # type: ignore[arg-type]
    now[0] = HOST_QUEUE_REFRESH_S - 0.1
    assert await cache.get(store, "s", running=True) == {"a.test": 1}  # type: ignore[arg-type]
    now[0] = HOST_QUEUE_REFRESH_S
    assert await cache.get(store, "s", running=True) == {"a.test": 2}  # type: ignore[arg-type]
    # A stopped session's queue is read afresh each time (asked for once, by hand).
    assert await cache.get(store, "s", running=False) == {"a.test": 3}  # type: ignore[arg-type]
    assert await cache.get(store, "s", running=False) == {"a.test": 4}  # type: ignore[arg-type]
    assert store.scans == 4


async def test_the_service_reuses_a_running_sessions_queue_for_the_refresh_interval(
    service: ScriptedService, seeder: Seeder
) -> None:
    running = await seeder.add("http://demo.test/", Status.RUNNING, progress=Progress(done=1))
    paused = await seeder.add("http://other.test/", Status.PAUSED, progress=Progress(done=1))
    db = service.manager.store.db_path
    first = await service.analytics(running.id)
    assert {h.host: h.queued for h in first.hosts} == {"demo.test": 1}  # the seed's row
    _queue(db, running.id, ["http://demo.test/a", "http://demo.test/b"])
    _queue(db, paused.id, ["http://other.test/a"])
    # The live tab asks every 2 s: within 10 s a running session's queue is not scanned again.
    again = await service.analytics(running.id)
    assert {h.host: h.queued for h in again.hosts} == {"demo.test": 1}
    # A stopped session's is read when asked.
    stopped = await service.analytics(paused.id)
    assert {h.host: h.queued for h in stopped.hosts} == {"other.test": 2}
