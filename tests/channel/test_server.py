"""The worker's side of the channel over real Unix sockets: greeting, progress, commands."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import time
from pathlib import Path

from tests.channel.conftest import FakeWorker
from tests.channel.rawclient import RawClient
from tui_scraper.runtime.channel.protocol import PROTOCOL_VERSION
from tui_scraper.runtime.channel.server import ChannelServer, ServerLimits


async def test_hello_then_snapshot_on_connect(sock_path: Path, worker: FakeWorker) -> None:
    worker.count = 7
    async with ChannelServer(sock_path, worker.snapshot, worker.handle, session_id="s1"):
        client = await RawClient.connect(sock_path)
        hello = await client.read()
        snapshot = await client.read()
        client.close()
    assert hello is not None and snapshot is not None
    assert hello["type"] == "hello" and hello["protocol"] == PROTOCOL_VERSION
    assert hello["pid"] == os.getpid() and hello["session"] == "s1"
    assert snapshot == {"type": "snapshot", "data": worker.snapshot()}


async def test_socket_and_directory_are_private(sock_path: Path, worker: FakeWorker) -> None:
    old = os.umask(0)  # the widest umask: the modes must not depend on it
    try:
        async with ChannelServer(sock_path, worker.snapshot, worker.handle):
            info = os.stat(sock_path)
            assert stat.S_ISSOCK(info.st_mode)
            assert stat.S_IMODE(info.st_mode) == 0o600
            assert stat.S_IMODE(os.stat(sock_path.parent).st_mode) == 0o700
            # No temporary name is left beside it.
            assert os.listdir(sock_path.parent) == [sock_path.name]
        assert not sock_path.exists()  # removed on close
    finally:
        os.umask(old)


async def test_untrusted_text_passes_as_json_strings(sock_path: Path, worker: FakeWorker) -> None:
    title = "\x1b]0;pwned\x07[red]x[/red]\u2028\nline"
    async with ChannelServer(sock_path, worker.snapshot, worker.handle) as server:
        client = await RawClient.connect(sock_path)
        await client.read_type("snapshot")
        server.publish_event({"kind": "error", "message": title})
        raw = await asyncio.wait_for(client.reader.readline(), 5)
        client.close()
    # One line, ASCII only: no escape sequence or line break of the site reaches the stream.
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1 and raw.isascii()
    assert b"\x1b" not in raw and b"\x07" not in raw
    assert json.loads(raw)["data"]["message"] == title


async def test_progress_is_coalesced_to_the_rate_and_latest_wins(
    sock_path: Path, worker: FakeWorker
) -> None:
    limits = ServerLimits(progress_hz=4.0)
    async with ChannelServer(sock_path, worker.snapshot, worker.handle, limits=limits) as server:
        client = await RawClient.connect(sock_path)
        await client.read_type("snapshot")
        published = 0
        stop = asyncio.Event()

        async def publisher() -> None:
            nonlocal published
            while not stop.is_set():
                published += 1
                server.publish_progress({"n": published})
                await asyncio.sleep(0)

        task = asyncio.create_task(publisher())
        received: list[tuple[float, int]] = []
        started = time.monotonic()
        while time.monotonic() - started < 2.0:
            message = await client.read_type("progress")
            received.append((time.monotonic(), message["data"]["n"]))
        # The publisher has gone on; what arrives next is its newest value, not a backlog.
        stop.set()
        await task
        last = await client.read_type("progress")
        client.close()
    assert published > 200  # a fast publisher...
    elapsed = received[-1][0] - received[0][0]
    # ...yet at most ~4 a second reach a client (+2: a late first read shortens `elapsed`).
    assert len(received) - 1 <= 4.0 * elapsed + 2
    assert len(received) >= 4
    numbers = [n for _, n in received]
    assert numbers == sorted(numbers) and numbers[-1] - numbers[0] > len(numbers)  # skips
    assert last["data"]["n"] == published


async def test_slow_reader_sees_only_the_latest_progress(
    sock_path: Path, worker: FakeWorker
) -> None:
    async with ChannelServer(sock_path, worker.snapshot, worker.handle) as server:
        client = await RawClient.connect(sock_path)
        await client.read_type("snapshot")
        for n in range(1, 1001):
            server.publish_progress({"n": n})
        first = await client.read_type("progress")
        for n in range(1001, 2001):
            server.publish_progress({"n": n})
        second = await client.read_type("progress")
        client.close()
    assert first["data"]["n"] == 1000 and second["data"]["n"] == 2000


async def test_events_reach_every_client_in_order(sock_path: Path, worker: FakeWorker) -> None:
    async with ChannelServer(sock_path, worker.snapshot, worker.handle) as server:
        clients = [await RawClient.connect(sock_path) for _ in range(3)]
        for client in clients:
            await client.read_type("snapshot")
        for n in range(10):
            server.publish_event({"n": n})
        for client in clients:
            seen = [(await client.read_type("event"))["data"]["n"] for _ in range(10)]
            assert seen == list(range(10))
            client.close()


async def test_commands_are_validated_and_answered_with_their_id(
    sock_path: Path, worker: FakeWorker
) -> None:
    async with ChannelServer(sock_path, worker.snapshot, worker.handle):
        client = await RawClient.connect(sock_path)
        await client.read_type("snapshot")
        await client.send(b'{"type":"pause","id":"a1"}\n')
        ack = await client.read_type("ack")
        await client.send(b'{"type":"set","id":2,"args":{"rate":2.5,"exclude":["/tag/"]}}\n')
        set_ack = await client.read_type("ack")
        await client.send(b'{"type":"set","id":3,"args":{"concurrency":0}}\n')
        bad = await client.read_type("error")
        await client.send(b'{"type":"cancel","id":4}\n')
        refused = await client.read_type("error")
        await client.send(b'{"type":"interrupt","id":5}\n')
        broken = await client.read_type("error")
        # None of these closed the connection.
        await client.send(b'{"type":"resume"}\n')
        resumed = await client.read_type("ack")
        client.close()
    assert ack["id"] == "a1" and ack["command"] == "pause"
    assert set_ack["id"] == 2
    assert bad["id"] == 3 and bad["code"] == "bad-command" and "concurrency" in bad["message"]
    assert refused["id"] == 4 and refused["code"] == "refused"
    assert broken["id"] == 5 and broken["code"] == "internal"
    assert resumed["id"] is None
    kinds = [c.kind for c in worker.commands]
    assert kinds == ["pause", "set", "cancel", "interrupt", "resume"]
    set_args = worker.commands[1].args
    assert set_args is not None and set_args.rate == 2.5 and set_args.exclude == ("/tag/",)


async def test_heartbeat_when_there_is_nothing_to_say(sock_path: Path, worker: FakeWorker) -> None:
    limits = ServerLimits(heartbeat=0.1)
    async with ChannelServer(sock_path, worker.snapshot, worker.handle, limits=limits):
        client = await RawClient.connect(sock_path)
        await client.read_type("snapshot")
        beat = await client.read(timeout=2.0)
        client.close()
    assert beat == {"type": "heartbeat"}


async def test_a_sample_that_is_not_json_is_skipped_not_fatal(
    sock_path: Path, worker: FakeWorker
) -> None:
    async with ChannelServer(sock_path, worker.snapshot, worker.handle) as server:
        client = await RawClient.connect(sock_path)
        await client.read_type("snapshot")
        server.publish_event({"bad": object()})
        server.publish_event({"bad": "x" * (2 * 1024 * 1024)})  # over the line limit
        server.publish_progress({"bad": {1, 2}})
        await asyncio.sleep(0)  # the pump meets the bad sample before the good one lands
        server.publish_event({"good": 1})
        assert (await client.read_type("event"))["data"] == {"good": 1}
        server.publish_progress({"good": 2})
        assert (await client.read_type("progress"))["data"] == {"good": 2}
        client.close()
