"""`pause` and `cancel` reach a detached worker over its channel and, when the channel cannot be
reached, by a durable control record; the worker's own command rules, seen from a client."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

import pytest

from tests.engine.site import SiteServer
from tui_scraper.runtime.channel.paths import socket_path
from tui_scraper.service.channel_client import ChannelClient, CommandFailed

from .helpers import cli, done_pages, events, lease_held, status_of, wait_for


def _start(data_dir: Path, site: SiteServer, rate: str = "10") -> str:
    result = cli(data_dir, "crawl", f"{site.base}/", "--rate", rate, "--detach")
    assert result.returncode == 0, result.stderr
    session_id = result.stdout.strip()
    wait_for(lambda: done_pages(data_dir) >= 3, timeout=30, what="the crawl got going")
    return session_id


def _block_channel(data_dir: Path, session_id: str) -> None:
    """Put a plain file where the socket is, in one rename: clients cannot connect, and the
    worker cannot re-create its socket (it never replaces what is not a socket)."""
    path = socket_path(data_dir, session_id)
    fd, temporary = tempfile.mkstemp(dir=path.parent)
    os.close(fd)
    os.replace(temporary, path)


def test_pause_by_channel_then_cancel_by_control_record(data_dir: Path, site: SiteServer) -> None:
    session_id = _start(data_dir, site)
    paused = cli(data_dir, "pause", session_id[:8])
    assert paused.returncode == 0, paused.stderr
    assert "over the live channel" in paused.stdout and "pausing" in paused.stdout
    wait_for(lambda: status_of(data_dir, session_id) == "paused", timeout=20)
    wait_for(lambda: not lease_held(data_dir, session_id), timeout=10)
    wait_for(lambda: not socket_path(data_dir, session_id).exists(), timeout=5)

    resumed = cli(data_dir, "resume", session_id, "--detach")
    assert resumed.returncode == 0, resumed.stderr
    _block_channel(data_dir, session_id)
    cancelled = cli(data_dir, "cancel", session_id)
    assert cancelled.returncode == 0, cancelled.stderr
    assert "by a control record" in cancelled.stdout, cancelled.stdout
    assert "cancelling" in cancelled.stdout
    wait_for(lambda: status_of(data_dir, session_id) == "failed", timeout=20)
    reasons = [r for to, r, _w in events(data_dir, session_id) if to == "failed"]
    assert reasons == ["cancelled"]


def test_pause_by_control_record_when_the_socket_is_gone(data_dir: Path, site: SiteServer) -> None:
    session_id = _start(data_dir, site)
    _block_channel(data_dir, session_id)
    paused = cli(data_dir, "pause", session_id)
    assert paused.returncode == 0, paused.stderr
    assert "by a control record" in paused.stdout and "pausing" in paused.stdout
    wait_for(lambda: status_of(data_dir, session_id) == "paused", timeout=20)
    db_outcomes = _control_outcomes(data_dir)
    assert db_outcomes == [("pause", "pausing")]


def _control_outcomes(data_dir: Path) -> list[tuple[str, str]]:
    from tests.engine.invariants import connect_ro

    db = connect_ro(data_dir)
    try:
        return list(db.execute("SELECT command, outcome FROM session_control ORDER BY id"))
    finally:
        db.close()


@pytest.mark.parametrize("command", ["pause", "cancel"])
def test_a_session_that_is_not_running_is_refused(
    data_dir: Path, site: SiteServer, command: str
) -> None:
    session_id = _start(data_dir, site, rate="1000")
    wait_for(lambda: status_of(data_dir, session_id) == "completed", timeout=60)
    result = cli(data_dir, command, session_id)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"tui-scraper: session {session_id[:8]} is not running (it is completed); "
        f"there is nothing to {command}"
    ]
    assert _control_outcomes(data_dir) == []


def test_the_worker_acks_resume_and_set_and_refuses_a_second_stop(
    data_dir: Path, site: SiteServer
) -> None:
    session_id = _start(data_dir, site)

    async def talk() -> tuple[dict[str, object], dict[str, object], dict[str, object], str, str]:
        async with await ChannelClient.connect(socket_path(data_dir, session_id)) as client:
            resumed = await client.command("resume")
            tuned = await client.command("set", rate=2.0)
            paused = await client.command("pause")
            with pytest.raises(CommandFailed) as second:
                await client.command("cancel")
            with pytest.raises(CommandFailed) as set_after:
                await client.command("set", rate=5.0)
            return resumed, tuned, paused, second.value.message, set_after.value.message

    resumed, tuned, paused, second, set_after = asyncio.run(talk())
    assert resumed["message"] == "ignored: already running"
    assert tuned["message"] == "now rate 2/s per host, concurrency 16, no exclude patterns"
    assert paused["message"] == "pausing"
    assert second.startswith("ignored: already stopping")
    assert set_after.startswith("ignored: already stopping")
    wait_for(lambda: status_of(data_dir, session_id) == "paused", timeout=20)
