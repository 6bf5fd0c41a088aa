"""Re-attaching: the backoff schedule, and the watcher against a worker that stops, restarts
or goes away for good."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.channel.conftest import FakeWorker
from tui_scraper.runtime.channel.paths import ensure_run_dir
from tui_scraper.runtime.channel.server import ChannelServer
from tui_scraper.service.channel_client import ProtocolMismatch
from tui_scraper.service.reconnect import (
    RECONNECT_BASE,
    RECONNECT_CAP,
    Connected,
    Gone,
    Message,
    Reconnecting,
    ReconnectingWatcher,
    WatchItem,
    reconnect_delay,
)

REPO = Path(__file__).resolve().parents[2]


class HighestRandom(random.Random):
    """Always the top of the range: shows the ceiling of each step."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_schedule_is_base_and_cap_of_the_contract() -> None:
    assert (RECONNECT_BASE, RECONNECT_CAP) == (0.25, 5.0)


def test_ceilings_double_from_the_base_up_to_the_cap() -> None:
    ceilings = [reconnect_delay(n, HighestRandom()) for n in range(9)]
    assert ceilings == [0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0, 5.0]
    assert reconnect_delay(10_000, HighestRandom()) == 5.0  # no overflow for a long outage


def test_full_jitter_with_a_seeded_rng() -> None:
    delays = [reconnect_delay(n % 12, random.Random(42 + n)) for n in range(2000)]
    for n, delay in enumerate(delays):
        assert 0.0 <= delay <= min(5.0, 0.25 * 2 ** (n % 12))
    # The same seed gives the same schedule: uniform(0, ceiling) of that RNG.
    rng, same = random.Random(7), random.Random(7)
    schedule = [reconnect_delay(n, rng) for n in range(10)]
    assert schedule == [same.uniform(0.0, min(5.0, 0.25 * 2**n)) for n in range(10)]
    # Full jitter: the whole range is used, not just its top (late attempts, cap 5 s).
    late = [d for n, d in enumerate(delays) if n % 12 >= 6]
    assert min(late) < 0.5 and max(late) > 4.5


async def _next(items: AsyncIterator[WatchItem], timeout: float = 20.0) -> WatchItem:
    async with asyncio.timeout(timeout):
        return await anext(items)


async def _until(items: AsyncIterator[WatchItem], kind: type, timeout: float = 20.0) -> WatchItem:
    async with asyncio.timeout(timeout):
        async for item in items:
            if isinstance(item, kind):
                return item
    raise AssertionError(f"the watch ended before a {kind.__name__}")


@pytest.fixture
def child_server(sock_path: Path) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.channel.serve_child", str(sock_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        yield process
    finally:
        process.send_signal(signal.SIGCONT)
        process.terminate()
        process.wait(timeout=10)


async def test_watcher_rides_out_a_stopped_worker(
    sock_path: Path, child_server: subprocess.Popen[str]
) -> None:
    watcher = ReconnectingWatcher(
        sock_path, lambda: True, rng=random.Random(1), connect_timeout=1.0, idle_timeout=1.0
    )
    items = aiter(watcher)
    first = await _next(items)
    assert isinstance(first, Connected) and first.snapshot["accepted"] == 1
    progress = await _until(items, Message)
    assert isinstance(progress, Message) and progress.message["type"] == "progress"
    last_count = progress.message["data"]["count"]
    os.kill(child_server.pid, signal.SIGSTOP)
    try:
        lost = await _until(items, Reconnecting)
        assert isinstance(lost, Reconnecting) and lost.attempt == 1
        assert 0.0 <= lost.in_seconds <= 0.25 and "no word" in lost.reason
        # Still stopped: the next try connects (the kernel accepts) but gets no hello.
        again = await _next(items)
        assert isinstance(again, Reconnecting) and again.attempt == 2
        assert again.in_seconds <= 0.5 and "did not answer" in again.reason
        assert watcher.client is None
    finally:
        os.kill(child_server.pid, signal.SIGCONT)
    back = await _until(items, Connected)
    assert isinstance(back, Connected)
    # A fresh snapshot, taken after the worker went on: not the state from before the stop.
    assert back.snapshot["count"] >= last_count
    assert back.snapshot["accepted"] > 1
    assert watcher.client is not None
    ack = await watcher.command("pause")
    assert ack["type"] == "ack"
    after = await _until(items, Message)
    assert isinstance(after, Message)
    await items.aclose()  # type: ignore[attr-defined]
    assert watcher.client is None


async def test_watcher_reconnects_to_a_restarted_worker(
    sock_path: Path, worker: FakeWorker
) -> None:
    alive = True
    first_server = ChannelServer(sock_path, worker.snapshot, worker.handle)
    await first_server.start()
    watcher = ReconnectingWatcher(sock_path, lambda: alive, rng=random.Random(3))
    items = aiter(watcher)
    assert isinstance(await _next(items), Connected)
    await first_server.close()
    lost = await _next(items)
    assert isinstance(lost, Reconnecting) and "closed the connection" in lost.reason
    worker.count = 99
    async with ChannelServer(sock_path, worker.snapshot, worker.handle):
        back = await _until(items, Connected)
        assert isinstance(back, Connected) and back.snapshot["count"] == 99
        await items.aclose()  # type: ignore[attr-defined]


async def test_watcher_reports_gone_when_the_probe_says_so(
    sock_path: Path, worker: FakeWorker
) -> None:
    probes = 0
    alive = True

    async def is_alive() -> bool:  # the lease check will be async
        nonlocal probes
        probes += 1
        return alive

    server = ChannelServer(sock_path, worker.snapshot, worker.handle)
    await server.start()
    watcher = ReconnectingWatcher(sock_path, is_alive, rng=random.Random(5), base=0.01)
    items = aiter(watcher)
    assert isinstance(await _next(items), Connected)
    await server.close()
    # While the lease is held, the watcher keeps trying...
    for attempt in (1, 2, 3):
        item = await _next(items)
        assert isinstance(item, Reconnecting) and item.attempt == attempt
    # ...and once the worker is gone it says so and ends.
    alive = False
    gone = await _until(items, Gone)
    assert isinstance(gone, Gone) and "cannot connect" in gone.reason
    assert [item async for item in items] == []
    assert probes >= 4


async def test_watcher_gone_at_once_when_nobody_ever_served(sock_path: Path) -> None:
    items = [item async for item in ReconnectingWatcher(sock_path, lambda: False)]
    assert len(items) == 1 and isinstance(items[0], Gone)


async def test_watcher_does_not_retry_another_protocol(sock_path: Path) -> None:
    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(json.dumps({"type": "hello", "protocol": 99}).encode() + b"\n")
        await writer.drain()
        await reader.read()
        writer.close()

    ensure_run_dir(sock_path.parent)
    async with await asyncio.start_unix_server(greet, str(sock_path)):
        with pytest.raises(ProtocolMismatch):
            await _next(aiter(ReconnectingWatcher(sock_path, lambda: True)))
