"""The final flush of a worker's channel (`live.flush_clients`) waits for connected clients
only: a worker nobody watches exits as soon as its session is settled."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.channel.conftest import FakeWorker, wait_until
from tests.channel.rawclient import RawClient
from tui_scraper.runtime import live
from tui_scraper.runtime.channel.server import ChannelServer


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait flush_clients asks for (and then waits, for real)."""
    asked: list[float] = []
    real_sleep = live.asyncio.sleep

    async def recorded(delay: float) -> None:
        asked.append(delay)
        await real_sleep(delay)

    monkeypatch.setattr(live.asyncio, "sleep", recorded)
    return asked


async def test_no_client_no_wait(sock_path: Path, worker: FakeWorker, sleeps: list[float]) -> None:
    async with ChannelServer(sock_path, worker.snapshot, worker.handle) as server:
        await live.flush_clients(server)
    assert sleeps == []


async def test_a_connected_client_gets_its_moment(
    sock_path: Path, worker: FakeWorker, sleeps: list[float]
) -> None:
    async with ChannelServer(sock_path, worker.snapshot, worker.handle) as server:
        client = await RawClient.connect(sock_path)
        assert await client.read() is not None  # hello: admitted
        await wait_until(lambda: server.connection_count == 1, what="the client counted")
        sleeps.clear()
        await live.flush_clients(server, limit=0.5)
        client.close()
    # One progress period, so the last figures go out at the client's rate.
    assert sleeps and sleeps[0] >= 1.0 / server.limits.progress_hz
