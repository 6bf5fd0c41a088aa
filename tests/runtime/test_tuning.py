"""Live tuning below the channel: the host gate's rate, the Tuning a command's args make,
LiveSession's rule for `set`, and in-process crawls (SessionManager) that serve their channel
and control records like a background worker. Real SQLite data dirs and real sites on
127.0.0.1; only LiveSession's rule is tested against a stand-in runner."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tui_scraper.domain import ConfigError, CrawlConfig, Status
from tui_scraper.domain.errors import StorageUnavailable
from tui_scraper.domain.tuning import Tuning, describe_tunables
from tui_scraper.engine.politeness import HostGate
from tui_scraper.runtime.channel.paths import socket_path
from tui_scraper.runtime.live import LiveSession
from tui_scraper.runtime.manager import SessionManager
from tui_scraper.service.channel_client import ChannelClient

from ..engine.site import SiteServer, generated_site


async def test_a_rate_changed_while_a_request_waits_applies_to_it() -> None:
    gate = HostGate(per_host=1, rate_per_host=0.2)  # 5 s apart
    async with gate.slot("h"):
        pass
    waiting = asyncio.ensure_future(_enter(gate, "h"))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    started = time.monotonic()
    gate.set_rate(100.0)  # 10 ms apart: the waiting request goes within a recheck
    await asyncio.wait_for(waiting, 2.0)
    assert time.monotonic() - started < 1.0
    gate.set_rate(None)
    with pytest.raises(ValueError):
        gate.set_rate(0)


async def _enter(gate: HostGate, host: str) -> None:
    async with gate.slot(host):
        pass


async def test_a_lower_rate_spaces_every_host_already_seen() -> None:
    gate = HostGate(per_host=4, rate_per_host=None)
    for host in ("a", "b"):
        async with gate.slot(host):
            pass
    gate.set_rate(4.0)  # 0.25 s apart
    starts: dict[str, list[float]] = {"a": [], "b": []}

    async def hit(host: str) -> None:
        async with gate.slot(host):
            starts[host].append(time.monotonic())

    await asyncio.gather(*(hit(host) for host in ("a", "b") for _ in range(3)))
    for times in starts.values():
        assert min(b - a for a, b in itertools.pairwise(times)) >= 0.24


def test_tuning_from_args_and_applied_to_a_config() -> None:
    base = CrawlConfig(target_url="http://127.0.0.1:9/", exclude=("a",), concurrency=16)
    tuning = Tuning.from_args({"rate": 2, "exclude": ["a", "b"]})
    tuned = tuning.applied_to(base)
    assert (tuned.rate_per_host, tuned.concurrency, tuned.exclude) == (2.0, 16, ("a", "b"))
    assert tuned.target_url == base.target_url
    assert describe_tunables(tuned) == "rate 2/s per host, concurrency 16, 2 exclude patterns"
    assert describe_tunables(base) == "no rate limit, concurrency 16, 1 exclude pattern"
    for bad in ({"speed": 1}, {"exclude": "a"}, {"concurrency": 2.5}, {"rate": 0}, {}):
        with pytest.raises(ConfigError):
            Tuning.from_args(bad)


class _Stats:
    def __init__(self) -> None:
        self.state = Status.RUNNING


class _Runner:
    """A stand-in for SessionRunner: records what it was asked."""

    session_id = "0" * 32

    def __init__(self, fail: BaseException | None = None) -> None:
        self.stats = _Stats()
        self.tuned: list[tuple[Tuning, str]] = []
        self.fail = fail

    def pause(self) -> None:
        self.stats.state = Status.PAUSED

    def cancel(self) -> None: ...

    def interrupt(self, reason: str, *, who: str | None = None) -> None: ...

    async def tune(self, tuning: Tuning, *, who: str) -> str:
        if self.fail is not None:
            raise self.fail
        self.tuned.append((tuning, who))
        return "now rate 2/s per host"


async def test_live_session_applies_set_only_to_a_running_crawl_with_good_args() -> None:
    runner = _Runner()
    live = LiveSession(runner, store=None, who="worker:1")  # type: ignore[arg-type]
    assert await live.apply("set", who="cli:2", args={"rate": 2.0}) == (
        True,
        "now rate 2/s per host",
    )
    assert runner.tuned == [(Tuning(rate=2.0), "cli:2")]
    accepted, text = await live.apply("set", who="cli:2", args={"speed": 3})
    assert not accepted and text.startswith("set: no setting 'speed'")
    accepted, text = await live.apply("set", who="cli:2", args={})
    assert not accepted and "at least one" in text
    await live.apply("pause", who="cli:2")
    assert await live.apply("set", who="cli:2", args={"rate": 5.0}) == (
        False,
        "ignored: the session is paused",
    )
    assert len(runner.tuned) == 1

    failing = LiveSession(_Runner(StorageUnavailable("disk full")), store=None, who="w")  # type: ignore[arg-type]
    accepted, text = await failing.apply("set", who="channel", args={"rate": 2.0})
    assert not accepted and text == "could not record the change: disk full"


# in-process crawls -----------------------------------------------------------------------


@pytest.fixture
def slow_site() -> Iterator[SiteServer]:
    server = SiteServer(generated_site(40)).start()
    yield server
    server.stop()


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[SessionManager]:
    opened = await SessionManager.open(tmp_path / "d", who="test")
    opened.parse_workers = 1
    yield opened
    await opened.close()


async def _session(manager: SessionManager, site: SiteServer, **config: Any) -> str:
    made = await manager.create(CrawlConfig(target_url=f"{site.base}/", **config))
    return made.id


async def test_an_in_process_crawl_serves_its_channel_and_its_control_records(
    manager: SessionManager, slow_site: SiteServer
) -> None:
    session_id = await _session(manager, slow_site, rate_per_host=5.0)
    handle = await manager.start(session_id)
    path = socket_path(manager.data_dir, session_id)
    async with asyncio.timeout(10):
        while not path.exists():
            await asyncio.sleep(0.02)
    async with await ChannelClient.connect(path) as client:
        assert client.snapshot["data"]["state"] == "running"
        ack = await client.command("set", concurrency=2)
        assert ack["message"] == "now rate 5/s per host, concurrency 2, no exclude patterns"
    record = await manager.store.post_control(session_id, "set", who="cli:9", args={"rate": 1000.0})
    async with asyncio.timeout(5):
        while (await manager.store.get_control(record.id)).pending:
            await asyncio.sleep(0.05)
    applied = await manager.store.get_control(record.id)
    assert applied.outcome == "now rate 1000/s per host, concurrency 2, no exclude patterns"
    assert await asyncio.wait_for(handle.wait(), 30) is Status.COMPLETED
    stored = await manager.get(session_id)
    assert (stored.config.rate_per_host, stored.config.concurrency) == (1000.0, 2)
    tuned = [(e.reason, e.who) for e in await manager.events(session_id) if e.kind == "tuned"]
    assert tuned == [
        ("tuned by channel: concurrency 2", "channel"),
        ("tuned by cli:9: rate 1000/s per host", "cli:9"),
    ]
    assert not path.exists()  # removed when the crawl stopped


async def test_a_channel_that_cannot_be_served_is_warned_and_the_crawl_runs(
    tmp_path: Path, slow_site: SiteServer
) -> None:
    deep = tmp_path / ("x" * 60) / "d"  # run/<id>.sock would pass what AF_UNIX takes
    manager = await SessionManager.open(deep, who="test")
    manager.parse_workers = 1
    try:
        session_id = await _session(manager, slow_site)
        handle = await manager.start(session_id)
        assert await asyncio.wait_for(handle.wait(), 30) is Status.COMPLETED
        warnings = [e.reason for e in await manager.events(session_id) if e.kind == "warning"]
        assert len(warnings) == 1
        assert warnings[0].startswith("the live channel cannot be served (")
        assert "a Unix socket path can be at most 107 bytes" in warnings[0]
    finally:
        await manager.close()
