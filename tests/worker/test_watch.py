"""Watching a worker from another process: the service's snapshots over the channel, the
events, and the lease as the liveness probe; plus the wire format's units."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from tests.engine.site import SiteServer
from tui_scraper.domain.status import Status
from tui_scraper.runtime.channel.paths import socket_path
from tui_scraper.runtime.live import new_errors
from tui_scraper.service import ProgressSnapshot
from tui_scraper.service.channel_client import ChannelClient
from tui_scraper.service.local import LocalSessionService
from tui_scraper.service.remote import snapshot_from_wire

from .helpers import cli, lease_held, wait_for, worker_pid


def _start(data_dir: Path, site: SiteServer) -> str:
    result = cli(data_dir, "crawl", f"{site.base}/", "--rate", "20", "--detach")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


async def _watch(data_dir: Path, session_id: str) -> list[ProgressSnapshot]:
    service = await LocalSessionService.open(data_dir, who="test", readonly=True)
    try:
        worker = service.worker_of(session_id)
        assert worker is not None and worker.pid > 0
        seen: list[ProgressSnapshot] = []
        async with asyncio.timeout(60):
            async for snapshot in service.watch_worker(session_id):
                seen.append(snapshot)
        return seen
    finally:
        await service.close()


def test_watch_worker_follows_the_crawl_to_its_final_status(
    data_dir: Path, site: SiteServer
) -> None:
    session_id = _start(data_dir, site)
    seen = asyncio.run(_watch(data_dir, session_id))
    assert len(seen) >= 3
    assert all(s.session_id == session_id for s in seen)
    assert seen[0].live and seen[0].status is Status.RUNNING
    assert seen[-1].status is Status.COMPLETED and not seen[-1].live
    assert seen[-1].progress.done == 60
    done = [s.progress.done for s in seen]
    assert done == sorted(done)
    assert any(s.recent for s in seen)


def test_watch_worker_ends_when_the_worker_is_killed(data_dir: Path, site: SiteServer) -> None:
    session_id = _start(data_dir, site)
    pid = worker_pid(data_dir, session_id)

    async def watch_and_kill() -> list[ProgressSnapshot]:
        seen: list[ProgressSnapshot] = []
        service = await LocalSessionService.open(data_dir, who="test", readonly=True)
        try:
            async with asyncio.timeout(30):
                async for snapshot in service.watch_worker(session_id):
                    seen.append(snapshot)
                    if len(seen) == 2:
                        os.killpg(pid, signal.SIGKILL)
        finally:
            await service.close()
        return seen

    seen = asyncio.run(watch_and_kill())
    assert len(seen) >= 2 and all(s.status is Status.RUNNING for s in seen)
    assert not lease_held(data_dir, session_id)


def test_the_channel_carries_a_transition_event_at_the_end(
    data_dir: Path, site: SiteServer
) -> None:
    session_id = _start(data_dir, site)
    wait_for(lambda: socket_path(data_dir, session_id).exists(), timeout=10)

    async def listen() -> list[dict[str, object]]:
        found: list[dict[str, object]] = []
        async with await ChannelClient.connect(socket_path(data_dir, session_id)) as client:
            async with asyncio.timeout(60):
                async for message in client:
                    if message["type"] == "event":
                        found.append(message["data"])
        return found

    found = asyncio.run(listen())
    assert {"kind": "transition", "from": "running", "to": "completed"} in found


def test_snapshot_from_wire_takes_defaults_for_what_is_missing_or_wrong() -> None:
    snap = snapshot_from_wire(
        {
            "session_id": "ab",
            "state": "no-such-state",
            "progress": {"done": 3, "host_states": {"h": "down"}, "unknown": 1},
            "recent": [{"url": "http://x/", "status": "done", "size": "big"}, 7],
            "errors": ["boom", 3],
            "rate_history": [1, "x", 2],
            "max_pages": True,
            "seq": 9,
        }
    )
    assert snap.status is Status.RUNNING and snap.live
    assert snap.progress.done == 3 and snap.host_states == (("h", "down"),)
    assert len(snap.recent) == 1 and snap.recent[0].size is None
    assert snap.errors == ("boom",) and snap.rate_history == (1, 2)
    assert snap.max_pages is None and snap.seq == 9
    assert snapshot_from_wire({}).progress.done == 0


def test_new_errors_of_a_growing_and_of_a_full_bounded_list() -> None:
    assert new_errors([], ["a"]) == ["a"]
    assert new_errors(["a"], ["a", "b", "c"]) == ["b", "c"]
    assert new_errors(["a", "b", "c"], ["b", "c", "d"]) == ["d"]
    assert new_errors(["x", "x"], ["x", "x"]) == []
    assert new_errors(["a", "b"], ["c", "d"]) == ["c", "d"]
