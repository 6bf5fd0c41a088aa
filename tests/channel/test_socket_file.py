"""The socket file: where it lives, a dead worker's leftover, a live one's, and `rm -rf run/`."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import uuid
from pathlib import Path

import pytest

from tests.channel.conftest import FakeWorker, wait_until
from tests.channel.rawclient import RawClient
from tui_scraper.paths import mkdir_private
from tui_scraper.runtime.channel.paths import ChannelError, socket_path
from tui_scraper.runtime.channel.server import ChannelServer, ServerLimits, recheck_on_sigusr1


def test_socket_path_is_run_slash_id_dot_sock(data_dir: Path) -> None:
    session_id = uuid.uuid4().hex
    assert socket_path(data_dir, session_id) == data_dir / "run" / f"{session_id}.sock"


def test_socket_path_refuses_what_is_not_a_session_id(data_dir: Path) -> None:
    with pytest.raises(ChannelError, match="not a session id"):
        socket_path(data_dir, "../../etc/passwd")


def test_socket_path_too_long_for_af_unix_is_a_clear_error() -> None:
    deep = Path("/tmp") / ("d" * 80)
    with pytest.raises(ChannelError, match=r"at most 107 bytes.*--data-dir") as caught:
        socket_path(deep, uuid.uuid4().hex)
    assert "\n" not in str(caught.value)


def _dead_workers_socket(path: Path) -> None:
    """What kill -9 leaves: a socket file that nobody listens on any more."""
    mkdir_private(path.parent)
    leftover = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    leftover.bind(str(path))
    leftover.close()
    assert stat.S_ISSOCK(os.lstat(path).st_mode)


async def test_a_stale_socket_is_replaced(sock_path: Path, worker: FakeWorker) -> None:
    _dead_workers_socket(sock_path)
    old_inode = os.stat(sock_path).st_ino
    async with ChannelServer(sock_path, worker.snapshot, worker.handle):
        assert os.stat(sock_path).st_ino != old_inode
        client = await RawClient.connect(sock_path)
        assert (await client.read_type("hello"))["protocol"] == 1
        client.close()


async def test_a_live_servers_socket_is_not_taken(sock_path: Path, worker: FakeWorker) -> None:
    async with ChannelServer(sock_path, worker.snapshot, worker.handle):
        second = ChannelServer(sock_path, worker.snapshot, worker.handle)
        with pytest.raises(ChannelError, match="another worker already serves"):
            await second.start()
        client = await RawClient.connect(sock_path)  # the first one is untouched
        assert (await client.read_type("hello"))["protocol"] == 1
        client.close()


async def test_a_file_in_the_way_is_refused(sock_path: Path, worker: FakeWorker) -> None:
    mkdir_private(sock_path.parent)
    sock_path.write_text("not a socket")
    with pytest.raises(ChannelError, match="not a socket"):
        await ChannelServer(sock_path, worker.snapshot, worker.handle).start()
    assert sock_path.read_text() == "not a socket"


async def test_a_symlinked_run_dir_is_refused(
    sock_path: Path, worker: FakeWorker, data_dir: Path
) -> None:
    elsewhere = data_dir / "elsewhere"
    elsewhere.mkdir()
    sock_path.parent.symlink_to(elsewhere)
    with pytest.raises(ChannelError, match="not a directory"):
        await ChannelServer(sock_path, worker.snapshot, worker.handle).start()
    assert list(elsewhere.iterdir()) == []


async def test_removed_socket_is_recreated_and_clients_reconnect(
    sock_path: Path, worker: FakeWorker
) -> None:
    limits = ServerLimits(check_interval=0.05)
    async with ChannelServer(sock_path, worker.snapshot, worker.handle, limits=limits) as server:
        connected = await RawClient.connect(sock_path)
        await connected.read_type("snapshot")
        shutil.rmtree(sock_path.parent)  # a user's `rm -rf run/`
        await wait_until(lambda: server.stats.recreated == 1, what="the socket re-created")
        assert sock_path.exists()
        assert stat.S_IMODE(os.stat(sock_path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(sock_path.parent).st_mode) == 0o700
        # A connection made before goes on; a new one gets the greeting.
        server.publish_event({"after": "rm"})
        assert (await connected.read_type("event"))["data"] == {"after": "rm"}
        newcomer = await RawClient.connect(sock_path)
        assert (await newcomer.read_type("hello"))["protocol"] == 1
        connected.close()
        newcomer.close()
    assert not sock_path.exists()


async def test_sigusr1_rechecks_the_socket_at_once(sock_path: Path, worker: FakeWorker) -> None:
    limits = ServerLimits(check_interval=3600.0)  # the periodic check would never come in time
    async with ChannelServer(sock_path, worker.snapshot, worker.handle, limits=limits) as server:
        undo = recheck_on_sigusr1(server)
        try:
            os.unlink(sock_path)
            os.kill(os.getpid(), signal.SIGUSR1)
            await wait_until(lambda: server.stats.recreated == 1, what="the socket re-created")
        finally:
            undo()
        client = await RawClient.connect(sock_path)
        assert (await client.read_type("hello"))["protocol"] == 1
        client.close()
        assert server.stats.recreated == 1


async def test_too_many_clients_are_told_so(sock_path: Path, worker: FakeWorker) -> None:
    limits = ServerLimits(max_clients=1)
    async with ChannelServer(sock_path, worker.snapshot, worker.handle, limits=limits):
        first = await RawClient.connect(sock_path)
        await first.read_type("snapshot")
        second = await RawClient.connect(sock_path)
        rest = await second.rest()
        assert [m["code"] for m in rest] == ["refused"]
        first.close()


async def test_socket_recreation_waits_out_something_in_the_way(
    sock_path: Path, worker: FakeWorker, caplog: pytest.LogCaptureFixture
) -> None:
    limits = ServerLimits(check_interval=0.02)
    async with ChannelServer(sock_path, worker.snapshot, worker.handle, limits=limits) as server:
        shutil.rmtree(sock_path.parent)
        sock_path.parent.write_text("a file where run/ was")
        await wait_until(lambda: "cannot re-create" in caplog.text, what="the warning")
        os.unlink(sock_path.parent)  # the user clears the way: the server comes back by itself
        await wait_until(lambda: server.stats.recreated == 1, what="the socket re-created")
        assert caplog.text.count("cannot re-create") == 1  # warned once, not every check
        client = await RawClient.connect(sock_path)
        assert (await client.read_type("hello"))["protocol"] == 1
        client.close()
