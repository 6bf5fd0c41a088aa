"""The shared host gate (engine/shared_gate.py) over an in-memory HostPacing: every start is
reserved from the pacing store and released to it, never leaked (a request that fails, a
waiter cancelled, the run's end); a start the store lets us keep serves our next requests
without a round trip for a while; a refused reservation is asked again; and which gate a crawl
gets depends on its store (SQLite keeps the in-memory one)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tui_scraper.backends.sqlite import Store as SqliteStore
from tui_scraper.domain.records import HostStart
from tui_scraper.engine import shared_gate
from tui_scraper.engine.politeness import HostGate
from tui_scraper.engine.shared_gate import SharedHostGate
from tui_scraper.ports import HostPacing


class MemoryPacing:
    """Counts starts per host like the database does (one limit over every gate using it)."""

    def __init__(self, *, may_keep: bool = True, wait_s: float = 0.0, refuse: int = 0) -> None:
        self.may_keep = may_keep
        self.wait_s = wait_s
        self.refuse = refuse  # the first N reservations are refused
        self.in_flight: dict[str, set[str]] = {}
        self.asked = 0
        self.reserved = 0
        self.released = 0
        self._serial = 0

    async def reserve_host(
        self, session_id: str, host: str, *, per_host: int, crawl_delay: float = 0.0
    ) -> HostStart | None:
        await asyncio.sleep(0)
        self.asked += 1
        held = self.in_flight.setdefault(host, set())
        if self.refuse > 0 or len(held) >= per_host:
            self.refuse -= 1
            return None
        self._serial += 1
        slot = f"s{self._serial}"
        held.add(slot)
        self.reserved += 1
        return HostStart(slot, host, self.wait_s, may_keep=self.may_keep)

    async def release_host(self, session_id: str, start: HostStart) -> None:
        await asyncio.sleep(0)
        if start.slot_id in self.in_flight.get(start.host, set()):
            self.in_flight[start.host].discard(start.slot_id)
            self.released += 1


def _gate(pacing: MemoryPacing, per_host: int = 2) -> SharedHostGate:
    return SharedHostGate(pacing, "s", per_host, None)


async def test_starts_kept_serve_the_next_requests_then_go_back() -> None:
    pacing = MemoryPacing(may_keep=True)
    gate = _gate(pacing)
    for _ in range(20):
        async with gate.slot("h"):
            pass
    assert pacing.reserved == 1  # one start, handed from each request to the next
    assert gate.kept == 1
    await gate.aclose()
    assert pacing.in_flight["h"] == set()
    assert gate.kept == 0


async def test_kept_starts_go_back_once_their_time_is_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shared_gate, "KEEP_S", 0.05)
    pacing = MemoryPacing(may_keep=True)
    gate = _gate(pacing)
    async with gate.slot("h"):
        pass
    assert pacing.in_flight["h"]
    for _ in range(100):
        if not pacing.in_flight["h"]:
            break
        await asyncio.sleep(0.01)
    assert not pacing.in_flight["h"]  # nobody took it: given back
    await gate.aclose()


async def test_without_may_keep_every_request_reserves_and_releases() -> None:
    pacing = MemoryPacing(may_keep=False)
    gate = _gate(pacing)
    for _ in range(5):
        async with gate.slot("h"):
            assert len(pacing.in_flight["h"]) == 1
    assert (pacing.reserved, pacing.released) == (5, 5)
    assert gate.kept == 0


async def test_a_request_that_fails_releases_its_start() -> None:
    pacing = MemoryPacing(may_keep=False)
    gate = _gate(pacing)
    with pytest.raises(RuntimeError):
        async with gate.slot("h"):
            raise RuntimeError("the fetch failed")
    assert pacing.in_flight["h"] == set()


async def test_a_refused_reservation_is_asked_again() -> None:
    pacing = MemoryPacing(may_keep=False, refuse=3)
    gate = _gate(pacing)
    async with gate.slot("h"):
        assert len(pacing.in_flight["h"]) == 1
    assert (pacing.asked, pacing.reserved) == (4, 1)


async def test_the_limit_is_the_stores_over_every_gate() -> None:
    """Two gates (two workers) on one store never have more than per_host in flight."""
    pacing = MemoryPacing(may_keep=False)
    gates = [_gate(pacing, per_host=2), _gate(pacing, per_host=2)]
    most = 0

    async def request(gate: SharedHostGate) -> None:
        nonlocal most
        async with gate.slot("h"):
            most = max(most, len(pacing.in_flight["h"]))
            await asyncio.sleep(0.005)

    await asyncio.gather(*(request(g) for g in gates for _ in range(10)))
    assert most == 2
    assert pacing.in_flight["h"] == set()


async def test_a_waiter_cancelled_before_its_start_gives_it_back() -> None:
    pacing = MemoryPacing(may_keep=False, wait_s=30.0)
    gate = _gate(pacing)

    async def request() -> None:
        async with gate.slot("h"):
            raise AssertionError("never starts")

    task = asyncio.create_task(request())
    for _ in range(100):
        if pacing.reserved:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert pacing.in_flight["h"] == set()


async def test_a_crawl_on_sqlite_keeps_the_in_memory_gate(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "data")
    try:
        assert not isinstance(store, HostPacing)
    finally:
        await store.close()
    assert isinstance(MemoryPacing(), HostPacing)
    assert isinstance(_gate(MemoryPacing()), HostGate)
