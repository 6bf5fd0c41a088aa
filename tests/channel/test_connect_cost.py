"""What a new connection costs the worker: one greeting built per change of the figures, the
same bytes sent to every newcomer, and an admission budget that makes a burst of connections
wait in the listen backlog (greeted later, never refused)."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from tests.channel.conftest import FakeWorker, wait_until
from tests.channel.rawclient import RawClient
from tui_scraper.domain.status import Status
from tui_scraper.engine.stats import CrawlStats, RecentPage
from tui_scraper.runtime.channel.admission import AdmissionBudget
from tui_scraper.runtime.channel.server import ChannelServer, ServerLimits, ServerStats, _Acceptor
from tui_scraper.runtime.live import LiveSession


class CountingWorker(FakeWorker):
    def __init__(self) -> None:
        super().__init__()
        self.snapshots_taken = 0
        self.key = 0

    def snapshot(self) -> dict[str, Any]:
        self.snapshots_taken += 1
        return super().snapshot()


async def _greeting(path: Path) -> tuple[bytes, bytes]:
    client = await RawClient.connect(path)
    try:
        return await client.reader.readline(), await client.reader.readline()
    finally:
        client.close()


async def test_newcomers_share_one_greeting_until_the_key_changes(sock_path: Path) -> None:
    worker = CountingWorker()
    async with ChannelServer(
        sock_path, worker.snapshot, worker.handle, snapshot_key=lambda: worker.key
    ) as server:
        worker.count = 1
        first = [await _greeting(sock_path) for _ in range(5)]
        assert worker.snapshots_taken == 1 and server.stats.greetings_built == 1
        assert len(set(first)) == 1 and b'"count":1' in first[0][1]
        worker.count = 2  # moved, but the key says the figures were not published yet
        assert await _greeting(sock_path) == first[0]
        worker.key += 1
        hello, snapshot = await _greeting(sock_path)
        assert hello == first[0][0] and b'"count":2' in snapshot
        assert worker.snapshots_taken == 2 and server.stats.greetings_built == 2


async def test_without_a_key_every_newcomer_gets_a_fresh_snapshot(
    sock_path: Path, worker: FakeWorker
) -> None:
    async with ChannelServer(sock_path, worker.snapshot, worker.handle) as server:
        for count in range(3):
            worker.count = count
            _, snapshot = await _greeting(sock_path)
            assert f'"count":{count}'.encode() in snapshot
        assert server.stats.greetings_built == 3


async def test_a_burst_beyond_the_budget_is_greeted_later_not_refused(
    sock_path: Path, worker: FakeWorker
) -> None:
    # More clients than a shallow listen backlog holds: each must find a place to wait.
    per_second, burst, clients = 200.0, 10, 150
    limits = ServerLimits(admit_per_second=per_second, admit_burst=burst)
    async with ChannelServer(sock_path, worker.snapshot, worker.handle, limits=limits) as server:
        started = time.monotonic()
        connected = [await RawClient.connect(sock_path) for _ in range(clients)]
        greeted_at: list[float] = []

        async def greeted(client: RawClient) -> None:
            assert (await client.read_type("hello", timeout=10))["protocol"] == 1
            await client.read_type("snapshot", timeout=10)
            greeted_at.append(time.monotonic() - started)

        await asyncio.gather(*(greeted(client) for client in connected))
        for client in connected:
            client.close()
        assert len(greeted_at) == clients and server.stats.accepted == clients
        # The first `burst` at once, the rest as tokens came back: never faster than that.
        assert max(greeted_at) >= (clients - burst) / per_second * 0.9
        assert server.stats.admission_waits >= 1


async def test_clients_churning_flat_out_get_no_more_than_the_budget(
    sock_path: Path, worker: FakeWorker
) -> None:
    # 60 clients connect, read the hello and go, again and again, as fast as they can.
    per_second, burst = 50.0, 5
    limits = ServerLimits(admit_per_second=per_second, admit_burst=burst)
    async with ChannelServer(sock_path, worker.snapshot, worker.handle, limits=limits) as server:
        stop = asyncio.Event()
        greetings = 0

        async def churn() -> None:
            nonlocal greetings
            while not stop.is_set():
                client = await RawClient.connect(sock_path)
                if await client.read(timeout=10) is not None:
                    greetings += 1
                client.close()

        started = time.monotonic()
        churners = [asyncio.create_task(churn()) for _ in range(60)]
        await asyncio.sleep(1.0)  # the stretch measured, not a wait for a condition
        accepted, elapsed = server.stats.accepted, time.monotonic() - started
        stop.set()
        await asyncio.gather(*churners, return_exceptions=True)
    assert greetings >= burst
    assert accepted <= burst + per_second * elapsed + 1, (accepted, elapsed)


class _Runner:
    session_id = "0" * 32

    def __init__(self) -> None:
        self.stats = CrawlStats(self.session_id, "http://127.0.0.1:9/")

    def pause(self) -> None: ...

    def cancel(self) -> None: ...

    def interrupt(self, reason: str, *, who: str | None = None) -> None: ...

    async def tune(self, tuning: object, *, who: str) -> str:
        return ""


def _page(n: int) -> RecentPage:
    return RecentPage(f"http://127.0.0.1:9/{n}", "done", 200, f"page {n}", 10, 1.0, float(n))


async def test_live_session_greets_from_the_last_publish_and_at_once_after_a_change_of_state(
    sock_path: Path,
) -> None:
    runner = _Runner()
    runner.stats.set_state(Status.RUNNING)
    live = LiveSession(runner, store=None, who="worker:1")  # type: ignore[arg-type]
    async with ChannelServer(
        sock_path, live.snapshot, live.handle_command, snapshot_key=live.snapshot_key
    ) as server:
        live.server = server
        live.publish_now()
        runner.stats.record_page(_page(1))
        _, first = await _greeting(sock_path)
        runner.stats.record_page(_page(2))  # every page moves `seq`: not a reason to rebuild
        assert (await _greeting(sock_path))[1] == first
        live.publish_now()
        _, after_publish = await _greeting(sock_path)
        assert b"/2" in after_publish and after_publish != first
        runner.stats.set_state(Status.PAUSED)
        _, paused = await _greeting(sock_path)
        assert b'"state":"paused"' in paused
        assert server.stats.greetings_built == 3


class _OutOfDescriptors(socket.socket):
    """A listening socket whose first accept fails as in a process out of file descriptors."""

    failures = 1

    def accept(self) -> tuple[socket.socket, Any]:
        if self.failures:
            self.failures -= 1
            raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))
        return super().accept()


async def test_accepting_pauses_when_out_of_descriptors_then_goes_on(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = data_dir / "t.sock"
    listening = _OutOfDescriptors(socket.AF_UNIX, socket.SOCK_STREAM)
    listening.bind(os.fspath(path))
    listening.listen(8)
    listening.setblocking(False)
    limits = ServerLimits(accept_error_pause=0.2)
    loop = asyncio.get_running_loop()
    admitted: list[socket.socket] = []
    stats = ServerStats()
    acceptor = _Acceptor(
        listening, AdmissionBudget(100.0, 4, loop.time), admitted.append, limits, stats
    )
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        started = loop.time()
        client.connect(os.fspath(path))
        await wait_until(lambda: bool(admitted), what="the connection accepted after the pause")
        assert loop.time() - started >= 0.2 * 0.9
        assert "cannot accept a connection now" in caplog.text
    finally:
        acceptor.close()
        client.close()
        for sock in admitted:
            sock.close()
