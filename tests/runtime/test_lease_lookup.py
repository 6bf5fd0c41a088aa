"""Who holds a session's lease, asked through the store when the store is a database (unit: a
stand-in store answers `lease_holder`; the SQLite path is the lock file, covered by the worker
suites). The service's `worker_of` is called from threads: it must get the store's answer from
the service's loop, and refuse to wait on that loop from the loop itself."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tui_scraper.domain.location import StoreLocation
from tui_scraper.runtime.manager import SessionManager
from tui_scraper.service.local import LocalSessionService

HELD = "a" * 32


class LeaseOnlyStore:
    """Just what these calls reach: the lease holder and close."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def lease_holder(self, session_id: str) -> dict[str, object] | None:
        self.asked.append(session_id)
        await asyncio.sleep(0)  # a real query yields to the loop
        if session_id != HELD:
            return None
        return {"pid": 4242, "host": "crawler-2", "start": 1700000000.0, "run_id": "r"}

    async def close(self) -> None:
        return None


async def test_worker_of_asks_the_store_from_a_thread_through_the_loop(tmp_path: Path) -> None:
    store = LeaseOnlyStore()
    location = StoreLocation(tmp_path, "postgresql://crawler@db.local/crawls")
    manager = SessionManager(store, location, who="test")  # type: ignore[arg-type]
    service = LocalSessionService(manager, who="test")
    worker = await asyncio.to_thread(service.worker_of, HELD)
    assert worker is not None and (worker.pid, worker.host) == (4242, "crawler-2")
    assert worker.since == 1700000000.0
    assert await asyncio.to_thread(service.worker_of, "b" * 32) is None
    assert store.asked == [HELD, "b" * 32]
    with pytest.raises(RuntimeError, match="off the event loop"):
        service.worker_of(HELD)  # on the loop it would wait for itself for ever
    assert await manager.lease_holder(HELD) == await store.lease_holder(HELD)
