"""Clients that misbehave: garbage, huge lines, half lines, never reading, churning by the dozen.
Each is closed or dropped on its own; the worker and every other client go on."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from pathlib import Path

import pytest

from tests.channel.conftest import FakeWorker, wait_until
from tests.channel.rawclient import RawClient
from tui_scraper.runtime.channel.protocol import MAX_CLIENT_LINE
from tui_scraper.runtime.channel.server import ChannelServer, ServerLimits

TEN_MB = 10 * 1024 * 1024


async def _bystander_still_served(server: ChannelServer, bystander: RawClient) -> None:
    server.publish_event({"still": "here"})
    event = await bystander.read_type("event")
    assert event["data"] == {"still": "here"}


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"garbage\n", "malformed"),
        (b"\n", "malformed"),
        (b"\xff\xfe{}\n", "malformed"),  # not UTF-8
        (b'{"type":"pause","id":"\xc3\x28"}\n', "malformed"),  # an invalid UTF-8 sequence
        (b"[1, 2]\n", "not-object"),
        (b'{"id": 1}\n', "not-object"),
        (b'{"type": 5}\n', "not-object"),
        (b'{"type":"explode"}\n', "unknown-type"),
        (b'{"type":"pause","n":NaN}\n', "malformed"),
        (b"[" * 50_000 + b"]" * 50_000 + b"\n", "too-long"),
        (b"[" * 30_000 + b"]" * 30_000 + b"\n", "malformed"),  # nested past the stack
        (b'{"type":"pause","id":' + b"9" * 5000 + b"}\n", "malformed"),  # a huge integer
        (b'{"type":"pause","id":"' + b"x" * MAX_CLIENT_LINE + b'"}\n', "too-long"),
    ],
    ids=lambda v: v if isinstance(v, str) else repr(v[:20]),
)
async def test_bad_line_closes_that_client_only(
    sock_path: Path, worker: FakeWorker, line: bytes, code: str
) -> None:
    async with ChannelServer(sock_path, worker.snapshot, worker.handle) as server:
        bystander = await RawClient.connect(sock_path)
        await bystander.read_type("snapshot")
        bad = await RawClient.connect(sock_path)
        await bad.read_type("snapshot")
        await bad.send(line)
        rest = await bad.rest()
        assert rest and rest[-1]["type"] == "error" and rest[-1]["code"] == code, rest
        await wait_until(lambda: server.connection_count == 1, what="the bad client closed")
        assert server.stats.closed_bad_input == 1
        assert worker.commands == []
        await _bystander_still_served(server, bystander)
        bystander.close()


async def test_ten_megabyte_line_is_never_buffered(sock_path: Path, worker: FakeWorker) -> None:
    async with ChannelServer(sock_path, worker.snapshot, worker.handle) as server:
        bystander = await RawClient.connect(sock_path)
        await bystander.read_type("snapshot")
        bad = await RawClient.connect(sock_path)
        await bad.read_type("snapshot")
        bad.writer.write(b"x" * TEN_MB)  # no newline at all
        rest = await bad.rest()
        with contextlib.suppress(ConnectionError):
            await bad.writer.drain()
        # The final error gets through when the kernel lets it (it may reset the connection).
        assert all(m["type"] in ("error", "heartbeat") for m in rest), rest
        assert [m["code"] for m in rest if m["type"] == "error"] in ([], ["too-long"])
        await wait_until(lambda: server.connection_count == 1, what="the bad client closed")
        assert server.stats.closed_bad_input == 1
        assert server.stats.max_pending_line <= MAX_CLIENT_LINE
        await _bystander_still_served(server, bystander)
        bystander.close()


async def test_a_line_of_exactly_the_limit_is_a_message(
    sock_path: Path, worker: FakeWorker
) -> None:
    head, tail = b'{"type":"pause","id":7', b"}"
    line = head + b" " * (MAX_CLIENT_LINE - len(head) - len(tail)) + tail
    assert len(line) == MAX_CLIENT_LINE
    async with ChannelServer(sock_path, worker.snapshot, worker.handle):
        client = await RawClient.connect(sock_path)
        await client.read_type("snapshot")
        for start in range(0, len(line), 1000):  # in pieces: the line is put back together
            await client.send(line[start : start + 1000])
        await client.send(b"\n")
        ack = await client.read_type("ack")
        client.close()
    assert ack["id"] == 7


async def test_half_line_then_eof_is_a_plain_disconnect(
    sock_path: Path, worker: FakeWorker
) -> None:
    async with ChannelServer(sock_path, worker.snapshot, worker.handle) as server:
        client = await RawClient.connect(sock_path)
        await client.read_type("snapshot")
        await client.send(b'{"type":"pau')
        client.writer.write_eof()
        rest = await client.rest()
        assert [m for m in rest if m["type"] != "heartbeat"] == []
        await wait_until(lambda: server.connection_count == 0, what="the client gone")
        assert server.stats.closed_bad_input == 0 and worker.commands == []


def _non_reading_client(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(str(path))
    return sock


async def test_client_that_never_reads_is_dropped_with_bounded_buffer(
    sock_path: Path, worker: FakeWorker
) -> None:
    limits = ServerLimits(progress_hz=50.0, write_high_water=64 * 1024, write_deadline=0.3)
    payload = {"blob": "y" * 32 * 1024}
    message_size = 33 * 1024
    async with ChannelServer(sock_path, worker.snapshot, worker.handle, limits=limits) as server:
        reader = await RawClient.connect(sock_path)
        await reader.read_type("snapshot")
        stuck = await asyncio.to_thread(_non_reading_client, sock_path)
        await wait_until(lambda: server.connection_count == 2)
        most = 0
        published = 0
        while server.connection_count == 2:
            server.publish_progress(payload)
            published += 1
            most = max(most, *server.buffered_bytes())
            await asyncio.sleep(0.005)
            assert published < 20_000, "the stuck client was never dropped"
        assert server.stats.dropped_slow == 1
        # Never more than the high-water mark plus the one message that crossed it.
        assert most <= limits.write_high_water + message_size
        assert most > 0
        await _bystander_still_served(server, reader)
        reader.close()
        stuck.close()


async def test_client_that_never_reads_events_is_dropped(
    sock_path: Path, worker: FakeWorker
) -> None:
    limits = ServerLimits(write_high_water=16 * 1024, queue_size=8, write_deadline=60.0)
    async with ChannelServer(sock_path, worker.snapshot, worker.handle, limits=limits) as server:
        reader = await RawClient.connect(sock_path)
        await reader.read_type("snapshot")
        stuck = await asyncio.to_thread(_non_reading_client, sock_path)
        await wait_until(lambda: server.connection_count == 2)
        sent = 0
        while server.connection_count == 2:
            server.publish_event({"n": sent, "blob": "z" * 4096})
            sent += 1
            await reader.read_type("event")  # the good client keeps up
            assert sent < 5000, "the stuck client was never dropped"
        # The event queue overflowed long before the deadline: a bounded queue, not a wait.
        assert server.stats.dropped_slow == 1
        await _bystander_still_served(server, reader)
        reader.close()
        stuck.close()


async def test_fifty_clients_churn_while_the_server_publishes(
    sock_path: Path, worker: FakeWorker
) -> None:
    rounds = 6
    async with ChannelServer(sock_path, worker.snapshot, worker.handle) as server:
        stop = asyncio.Event()
        published = 0

        async def publisher() -> None:
            nonlocal published
            while not stop.is_set():
                published += 1
                worker.count = published
                server.publish_progress({"n": published})
                if published % 50 == 0:
                    server.publish_event({"n": published})
                await asyncio.sleep(0)

        async def churn(index: int) -> None:
            for round_ in range(rounds):
                client = await RawClient.connect(sock_path)
                assert (await client.read_type("hello"))["protocol"] == 1
                await client.read_type("snapshot")
                if (index + round_) % 3 == 0:
                    client.writer.transport.abort()  # vanish without a goodbye
                else:
                    if round_ % 2:
                        await client.send(b'{"type":"pause"}\n')
                        await client.read_type("ack")
                    client.close()

        task = asyncio.create_task(publisher())
        await asyncio.gather(*(churn(i) for i in range(50)))
        await wait_until(lambda: server.connection_count == 0, what="every churner gone")
        stop.set()
        await task
        assert server.stats.accepted == 50 * rounds
        assert published > 0
        # And it still serves: a newcomer gets a fresh snapshot and the newest progress.
        client = await RawClient.connect(sock_path)
        snapshot = await client.read_type("snapshot")
        assert snapshot["data"]["count"] == published
        server.publish_progress({"n": published + 1})
        assert (await client.read_type("progress"))["data"]["n"] == published + 1
        client.close()
