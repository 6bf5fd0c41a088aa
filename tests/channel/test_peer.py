"""Only the worker's own user gets in: the socket's mode first, SO_PEERCRED second."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
from pathlib import Path

import pytest

from tests.channel.conftest import FakeWorker, wait_until
from tests.channel.rawclient import RawClient
from tui_scraper.runtime.channel.peer import peer_allowed, peer_uid
from tui_scraper.runtime.channel.server import ChannelServer

NOBODY = 65534
REFUSED_BY_MODE = 13
CLOSED_AT_ONCE = 20
GOT_DATA = 21


def test_peer_uid_of_a_socketpair_is_our_own() -> None:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with left, right:
        assert peer_uid(left) == os.geteuid()
        assert peer_allowed(left, os.geteuid())
        assert not peer_allowed(left, os.geteuid() + 1)


def test_a_peer_that_cannot_be_told_is_a_stranger() -> None:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    right.close()
    left.close()
    assert not peer_allowed(left, os.geteuid())  # getsockopt fails on a closed socket


async def test_server_closes_a_peer_of_another_uid_at_once(
    sock_path: Path, worker: FakeWorker
) -> None:
    stranger = os.geteuid() + 4242  # as if our own uid were someone else's
    async with ChannelServer(
        sock_path, worker.snapshot, worker.handle, allowed_uid=stranger
    ) as server:
        client = await RawClient.connect(sock_path)
        assert await client.rest() == []  # not even a hello
        assert server.stats.refused_peers == 1 and server.connection_count == 0


def _connect_as_nobody(path: Path) -> int:
    """Fork a child that drops to uid 65534 and connects; its exit code says what happened."""
    pid = os.fork()
    if pid == 0:  # the child: only system calls, then _exit
        code = 99
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(10)
            try:
                sock.connect(str(path))
            except PermissionError:
                code = REFUSED_BY_MODE
            else:
                try:
                    code = GOT_DATA if sock.recv(4096) else CLOSED_AT_ONCE
                except ConnectionResetError:
                    code = CLOSED_AT_ONCE
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")
async def test_another_uid_cannot_connect_and_is_refused_if_the_mode_is_loosened(
    sock_path: Path, worker: FakeWorker, data_dir: Path
) -> None:
    async with ChannelServer(sock_path, worker.snapshot, worker.handle) as server:
        assert stat.S_IMODE(os.stat(sock_path).st_mode) == 0o600
        # Let nobody walk the directories, so that only the socket's own mode stands guard.
        os.chmod(data_dir, 0o711)
        os.chmod(sock_path.parent, 0o711)
        assert await asyncio.to_thread(_connect_as_nobody, sock_path) == REFUSED_BY_MODE
        assert server.stats.accepted == 0 and server.stats.refused_peers == 0
        # Loosened by hand: the connection is made, and SO_PEERCRED closes it at once.
        os.chmod(sock_path, 0o666)
        assert await asyncio.to_thread(_connect_as_nobody, sock_path) == CLOSED_AT_ONCE
        await wait_until(lambda: server.stats.refused_peers == 1)
        assert server.stats.accepted == 0
        # Our own user still gets in.
        client = await RawClient.connect(sock_path)
        assert (await client.read_type("hello"))["protocol"] == 1
        client.close()
