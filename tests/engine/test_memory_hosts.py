"""The host gate's memory follows the hosts in use, not every host a crawl ever met.

A crawl across many hosts (scope "any") used to keep a lane (a semaphore and a lock) for each
host it had fetched from, for the whole run. Idle lanes are now dropped once their spacing can no
longer matter, and the gate must behave exactly as before: per-host limits for hosts in use, the
spacing of a paced host, and a host's Crawl-delay all survive the sweeps.
"""

from __future__ import annotations

import asyncio

from tui_scraper.engine.politeness import LANES_KEPT, LONGEST_GAP_S, HostGate

MANY = 5 * LANES_KEPT


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _visit(gate: HostGate, hosts: list[str]) -> None:
    for host in hosts:
        async with gate.slot(host):
            pass


async def _wait_until(predicate: object, timeout: float = 5.0) -> None:
    async def poll() -> None:
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


async def test_hosts_no_longer_in_use_leave_no_lane() -> None:
    gate = HostGate(per_host=2, rate_per_host=None)
    await _visit(gate, [f"host-{i}.example" for i in range(MANY)])
    assert gate.lanes <= LANES_KEPT


async def test_a_host_in_use_keeps_its_limit_through_a_sweep() -> None:
    gate = HostGate(per_host=1, rate_per_host=None)
    release = asyncio.Event()
    second_started = asyncio.Event()

    async def hold() -> None:
        async with gate.slot("busy.example"):
            await release.wait()

    async def second() -> None:
        async with gate.slot("busy.example"):
            second_started.set()

    holder = asyncio.create_task(hold())
    await _wait_until(lambda: gate.in_flight("busy.example") == 1)
    waiter = asyncio.create_task(second())
    await asyncio.sleep(0.01)
    await _visit(gate, [f"host-{i}.example" for i in range(MANY)])  # sweeps meanwhile
    assert gate.in_flight("busy.example") == 1 and not second_started.is_set()
    release.set()
    await asyncio.wait_for(asyncio.gather(holder, waiter), 5)
    assert second_started.is_set()


async def test_a_paced_host_keeps_its_spacing_through_a_sweep() -> None:
    clock = FakeClock()
    gate = HostGate(per_host=1, rate_per_host=0.5, clock=clock)  # starts 2 s apart
    await _visit(gate, [f"old-{i}.example" for i in range(MANY)])  # paced too, at t=0
    clock.now = LONGEST_GAP_S + 10.0
    await _visit(gate, ["paced.example"])
    clock.now += 1.0
    await _visit(gate, [f"new-{i}.example" for i in range(MANY)])
    # The old hosts' gaps are over whatever the rate: dropped. The recent ones are kept.
    assert gate.lanes == MANY + 1
    started = asyncio.Event()

    async def again() -> None:
        async with gate.slot("paced.example"):
            started.set()

    task = asyncio.create_task(again())
    await asyncio.sleep(0.3)  # more than one recheck of the gap
    assert not started.is_set()  # 1 s after its last start: 1 s to go
    clock.now += 1.0
    await asyncio.wait_for(task, 5)


async def test_a_crawl_delay_outlives_its_dropped_lane() -> None:
    clock = FakeClock()
    gate = HostGate(per_host=1, rate_per_host=None, clock=clock)
    gate.set_delay("slow.example", 5.0)
    await _visit(gate, ["slow.example"])
    clock.now = LONGEST_GAP_S + 1.0  # its gap is long over: the lane may go
    await _visit(gate, [f"host-{i}.example" for i in range(MANY)])
    assert gate.lanes <= LANES_KEPT
    start = clock.now
    await _visit(gate, ["slow.example"])  # at once: the last start is long ago
    started = asyncio.Event()

    async def again() -> None:
        async with gate.slot("slow.example"):
            started.set()

    task = asyncio.create_task(again())
    await asyncio.sleep(0.3)
    assert not started.is_set()  # the Crawl-delay still spaces it
    clock.now = start + 5.0
    await asyncio.wait_for(task, 5)
