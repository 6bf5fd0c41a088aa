"""The local SessionService over a real store and a real crawl of the demo site on 127.0.0.1."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tui_scraper.demo import DemoServer
from tui_scraper.domain import CrawlConfig, Status
from tui_scraper.service import ProgressSnapshot
from tui_scraper.service.local import LocalSessionService
from tui_scraper.ui.app import ScraperApp
from tui_scraper.ui.screens.progress import ProgressScreen


async def test_watch_yields_frozen_snapshots_at_a_bounded_rate_and_ends(tmp_path: Path) -> None:
    async with DemoServer(slow_seconds=0.5) as server:
        service = await LocalSessionService.open(tmp_path, who="test")
        try:
            config = CrawlConfig(target_url=str(server.base_url), max_pages=20, allow_private=True)
            session = await service.create(config)
            session_id = await service.start(session.id)
            assert service.running_ids() == [session_id]
            hz = 10.0
            started = time.monotonic()
            snaps: list[ProgressSnapshot] = [s async for s in service.watch(session_id, hz=hz)]
            took = time.monotonic() - started
        finally:
            await service.close()
    assert snaps, "watch yielded nothing"
    # Ends when the crawl ends, and the last snapshot says how it ended.
    assert snaps[-1].status is Status.COMPLETED
    assert not snaps[-1].live
    assert all(s.live for s in snaps[:-1])
    # Bounded: never more than one snapshot per period (plus the first and the final one).
    assert len(snaps) <= took * hz + 2
    # Only when something moved: no two consecutive snapshots are the same sample.
    assert all((a.seq, a.status) != (b.seq, b.status) for a, b in itertools.pairwise(snaps))
    assert snaps[-1].progress.done > 0 and snaps[-1].recent
    with pytest.raises(dataclasses.FrozenInstanceError):
        snaps[-1].status = Status.FAILED  # type: ignore[misc]
    assert isinstance(snaps[-1].recent, tuple) and isinstance(snaps[-1].errors, tuple)


async def test_watch_of_a_session_not_running_ends_at_once(tmp_path: Path) -> None:
    service = await LocalSessionService.open(tmp_path, who="test")
    try:
        session = await service.create(CrawlConfig(target_url="http://127.0.0.1:9/"))
        assert [s async for s in service.watch(session.id)] == []
        assert service.latest(session.id) is None
        assert service.pause(session.id) is False and service.cancel(session.id) is False
    finally:
        await service.close()


class _CountingService(LocalSessionService):
    """The real local service, counting the watches the screens open."""

    watches = 0

    def watch(self, session_id: str, *, hz: float = 4.0) -> AsyncIterator[ProgressSnapshot]:
        type(self).watches += 1
        return super().watch(session_id, hz=hz)


async def test_live_progress_screen_draws_the_snapshots_watch_yields(tmp_path: Path) -> None:
    async with DemoServer(slow_seconds=0.5) as server:
        service = await _CountingService.open(tmp_path, who="test")
        config = CrawlConfig(target_url=str(server.base_url), max_pages=20, allow_private=True)
        app = ScraperApp(tmp_path, service=service, new_config=config, sample_hz=20.0)
        async with app.run_test(size=(100, 30)) as pilot:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 60
            # No manual sampling: only the watch feeds the screen.
            while not (
                isinstance(app.screen, ProgressScreen) and app.screen.state is Status.COMPLETED
            ):
                assert loop.time() < deadline, "the screen never showed the end of the crawl"
                await pilot.pause(0.05)
            screen = app.screen
            assert _CountingService.watches >= 1
            assert isinstance(screen.snapshot, ProgressSnapshot)
            assert screen.snapshot.progress.done > 0 and screen.snapshot.recent


async def test_interrupt_stops_a_live_crawl_resumably_with_its_reason(tmp_path: Path) -> None:
    async with DemoServer(slow_seconds=0.5) as server:
        service = await LocalSessionService.open(tmp_path, who="test")
        try:
            config = CrawlConfig(target_url=str(server.base_url), max_pages=50, allow_private=True)
            session = await service.create(config)
            session_id = await service.start(session.id)
            assert service.interrupt(session_id, "signal SIGTERM", who="signal") is True
            assert await service.wait(session_id) is Status.INTERRUPTED
            stored = await service.get(session_id)
            events = await service.events(session_id)
            assert service.interrupt(session_id, "again") is False  # nothing runs any more
        finally:
            await service.close()
    assert stored.status is Status.INTERRUPTED
    last = events[-1]
    assert last.to_status is Status.INTERRUPTED
    assert (last.reason, last.who) == ("signal SIGTERM", "signal")


async def test_read_only_open_of_a_missing_dir_creates_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "never-made"
    service = await LocalSessionService.open(data_dir, who="test", readonly=True)
    try:
        assert await service.list_sessions() == []
        assert await service.recoverable() == []
    finally:
        await service.close()
    assert not data_dir.exists()


def _tree(root: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(root)): (p.stat().st_mode, p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


async def test_read_only_open_lists_shows_and_exports_writing_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    writer = await LocalSessionService.open(data_dir, who="test")
    try:
        session = await writer.create(CrawlConfig(target_url="http://127.0.0.1:9/"))
    finally:
        await writer.close()
    before = _tree(data_dir)
    reader = await LocalSessionService.open(data_dir, who="test", readonly=True)
    try:
        assert [s.id for s in await reader.list_sessions()] == [session.id]
        assert (await reader.get(session.id[:8])).status is Status.PENDING
        out = tmp_path / "out.jsonl"
        assert await reader.export(session.id[:8], "jsonl", out) == 1  # the seed, not fetched yet
        assert json.loads(out.read_text())["status"] == "queued"
    finally:
        await reader.close()
    assert _tree(data_dir) == before


async def test_secrets_problem_names_what_is_gone_and_forget_deletes_them(tmp_path: Path) -> None:
    service = await LocalSessionService.open(tmp_path, who="test")
    try:
        config = CrawlConfig(target_url="http://127.0.0.1:9/")
        plain = await service.create(config)
        secret = await service.create(config, secret_headers={"Authorization": "Bearer x"})
        assert await service.secrets_problem(plain) is None
        assert await service.secrets_problem(secret) is None
        secrets_files = [p for p in tmp_path.rglob("*") if secret.id in p.name]
        assert secrets_files, "the secret headers were not stored beside the database"
        await service.forget_secrets(secret.id)
        assert not any(p.exists() for p in secrets_files)
        problem = await service.secrets_problem(secret)
        await service.forget_secrets(secret.id)  # nothing left: still fine
    finally:
        await service.close()
    assert problem is not None and "missing" in problem
