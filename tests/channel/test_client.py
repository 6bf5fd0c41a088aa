"""The client side against a real server (and against servers that misbehave)."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from tests.channel.conftest import FakeWorker, wait_until
from tui_scraper.runtime.channel.paths import ChannelError, ensure_run_dir
from tui_scraper.runtime.channel.server import ChannelServer, ServerLimits
from tui_scraper.service.channel_client import (
    ChannelClient,
    ChannelLost,
    CommandFailed,
    ProtocolMismatch,
)


async def test_snapshot_then_messages(sock_path: Path, worker: FakeWorker) -> None:
    worker.count = 3
    limits = ServerLimits(heartbeat=0.05)  # heartbeats in between are not handed out
    async with ChannelServer(sock_path, worker.snapshot, worker.handle, limits=limits) as server:
        client = await ChannelClient.connect(sock_path)
        assert client.hello["protocol"] == 1
        messages = aiter(client)
        snapshot = await anext(messages)
        assert snapshot == {"type": "snapshot", "data": worker.snapshot()}
        server.publish_event({"kind": "paused"})
        server.publish_progress({"n": 1})
        assert (await anext(messages))["type"] == "event"
        assert (await anext(messages)) == {"type": "progress", "data": {"n": 1}}
        await client.close()
        assert client.closed_reason == "closed by the client"


async def test_commands_and_their_replies(sock_path: Path, worker: FakeWorker) -> None:
    # Items of one `async with` are entered in order: the server listens before the connect.
    async with (
        ChannelServer(sock_path, worker.snapshot, worker.handle),
        await ChannelClient.connect(sock_path) as client,
    ):
        ack = await client.command("pause")
        assert ack["type"] == "ack" and ack["command"] == "pause"
        assert (await client.command("set", rate=3.0))["data"] == {"kind": "set"}
        with pytest.raises(CommandFailed) as refused:
            await client.command("cancel")
        assert refused.value.code == "refused"
        with pytest.raises(CommandFailed) as bad:
            await client.command("set", concurrency=-1)
        assert bad.value.code == "bad-command"
        # The replies never show up among the messages.
        assert client._inbox.empty()
    assert [c.kind for c in worker.commands] == ["pause", "set", "cancel"]


async def test_command_times_out_when_the_worker_does_not_answer(
    sock_path: Path, worker: FakeWorker
) -> None:
    worker.block = asyncio.Event()
    async with (
        ChannelServer(sock_path, worker.snapshot, worker.handle),
        await ChannelClient.connect(sock_path) as client,
    ):
        with pytest.raises(TimeoutError):
            await client.command("pause", timeout=0.2)
        worker.block.set()


async def test_a_pending_command_fails_when_the_connection_ends(
    sock_path: Path, worker: FakeWorker
) -> None:
    worker.block = asyncio.Event()
    server = ChannelServer(sock_path, worker.snapshot, worker.handle)
    await server.start()
    client = await ChannelClient.connect(sock_path)
    pending = asyncio.create_task(client.command("resume"))
    await wait_until(lambda: len(worker.commands) == 1)
    await server.close()
    with pytest.raises(ChannelLost):
        await pending
    assert [m async for m in client.messages(with_snapshot=False)] == []  # the iterator ends
    with pytest.raises(ChannelLost):
        await client.command("pause")
    worker.block.set()
    await client.close()


async def test_nobody_there_is_channel_lost(sock_path: Path) -> None:
    with pytest.raises(ChannelLost, match="cannot connect"):
        await ChannelClient.connect(sock_path)


async def _fake_server(path: Path, greeting: bytes) -> asyncio.AbstractServer:
    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(greeting)
        await writer.drain()
        await reader.read()  # stay until the client goes
        writer.close()

    ensure_run_dir(path.parent)
    return await asyncio.start_unix_server(greet, os.fspath(path))


async def test_another_protocol_version_is_a_clear_error(sock_path: Path) -> None:
    hello = {"type": "hello", "protocol": 2, "server": "tui-scraper"}
    server = await _fake_server(sock_path, json.dumps(hello).encode() + b"\n")
    async with server:
        with pytest.raises(ProtocolMismatch) as caught:
            await ChannelClient.connect(sock_path)
    message = str(caught.value)
    assert "protocol 2" in message and "speaks 1" in message and "same tui-scraper" in message


@pytest.mark.parametrize(
    "greeting",
    [
        b"\xff\n",
        b"[]\n",
        b'{"type":"snapshot"}\n',
        b'{"type":"hello","protocol":1}\n{"x":1}\n',
        b'{"type":"hello","protocol":1}\n{"type":"progress","data":{}}\n',
        b'{"type":"hello","protocol":1}\n{"type":"snapshot","data":[1]}\n',
    ],
)
async def test_a_garbled_greeting_is_refused(sock_path: Path, greeting: bytes) -> None:
    async with await _fake_server(sock_path, greeting):
        with pytest.raises(ChannelError):
            await ChannelClient.connect(sock_path, timeout=2.0)


async def test_silence_after_the_greeting_ends_the_connection(sock_path: Path) -> None:
    greeting = b'{"type":"hello","protocol":1}\n{"type":"snapshot","data":{}}\n'
    async with await _fake_server(sock_path, greeting):
        client = await ChannelClient.connect(sock_path, idle_timeout=0.2)
        assert [m["type"] async for m in client] == ["snapshot"]
        assert client.closed_reason is not None and "no word" in client.closed_reason
        await client.close()


async def test_no_greeting_in_time_is_channel_lost(sock_path: Path) -> None:
    async with await _fake_server(sock_path, b""):
        with pytest.raises(ChannelLost, match="did not answer"):
            await ChannelClient.connect(sock_path, timeout=0.2)
