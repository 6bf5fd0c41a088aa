"""In-process crawls (real store, real HTTP on 127.0.0.1) for what the CLI tests cannot see:
the live figures, the batch bound, and faults that need a hook to happen on cue (MemoryError,
EMFILE when a fetch worker starts)."""

from __future__ import annotations

import asyncio
import errno
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tui_scraper.backends.sqlite import Store
from tui_scraper.domain import CrawlConfig, PageStatus, Status
from tui_scraper.engine import fetch_pool, parse
from tui_scraper.engine.batching import BATCH_SIZE
from tui_scraper.engine.page_fetch import FetchedPage, HopCheck, PageRequest
from tui_scraper.engine.stats import CrawlStats
from tui_scraper.runtime.manager import SessionManager

from .invariants import assert_store_invariants
from .site import SiteServer, generated_site


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[SessionManager]:
    opened = await SessionManager.open(tmp_path / "d", who="test")
    try:
        yield opened
    finally:
        await opened.close()


def slow_site(pages: int, delay: float) -> SiteServer:
    async def slow(_request: web.Request) -> None:
        await asyncio.sleep(delay)  # then the page itself is served

    site = generated_site(pages, filler=5)
    return SiteServer(site, extra={p: slow for p in site}).start()


async def run_crawl(manager: SessionManager, url: str, **options: Any) -> tuple[str, Status]:
    session = await manager.create(CrawlConfig(target_url=url, **options))
    handle = await manager.start(session.id)
    return session.id, await asyncio.wait_for(handle.wait(), 240)


async def test_fetching_is_requests_in_flight(manager: SessionManager) -> None:
    server = slow_site(120, 0.05)
    try:
        session = await manager.create(
            CrawlConfig(target_url=server.base + "/", concurrency=4, per_host_concurrency=4)
        )
        handle = await manager.start(session.id)
        seen: list[int] = []
        while not handle.done:
            seen.append(handle.stats.snapshot().progress.fetching)
            await asyncio.sleep(0.01)
        assert await handle.wait() is Status.COMPLETED
        # Claimed rows waiting for a worker are queued, not fetching: never above concurrency.
        assert max(seen) <= 4, max(seen)
        assert max(seen) > 0
    finally:
        server.stop()


async def test_final_rate_is_the_session_average_the_summary_stores(
    manager: SessionManager,
) -> None:
    server = SiteServer(generated_site(300, filler=5)).start()
    try:
        session_id, status = await run_crawl(manager, server.base + "/", concurrency=8)
        assert status is Status.COMPLETED
        record = await manager.get(session_id)
        assert record.summary is not None
        stored = record.progress
        assert stored.avg_pages_per_s > 0
        # The live figure ends on the average, and the summary computes the same one.
        assert stored.pages_per_s == stored.avg_pages_per_s == record.summary["pages_per_s"]
        assert record.summary["duration_s"] == stored.elapsed_s
    finally:
        server.stop()


async def test_paused_session_shows_its_average_not_a_frozen_live_rate(
    manager: SessionManager,
) -> None:
    server = slow_site(400, 0.01)
    try:
        session = await manager.create(CrawlConfig(target_url=server.base + "/", concurrency=4))
        handle = await manager.start(session.id)
        while handle.stats.snapshot().progress.done < 40:
            await asyncio.sleep(0.01)
        handle.pause()
        assert await handle.wait() is Status.PAUSED
        stored = (await manager.get(session.id)).progress
        live = handle.stats.snapshot().progress
        assert stored.avg_pages_per_s > 0
        assert stored.pages_per_s == stored.avg_pages_per_s == live.pages_per_s
        assert stored.fetching == 0
    finally:
        server.stop()


def test_recent_rate_divides_by_the_time_it_covers() -> None:
    now = [1000.0]
    stats = CrawlStats("s", "http://x/", clock=lambda: now[0])
    stats.start_run()
    for i in range(585):  # 3 s at 195 pages/s
        now[0] = 1000.0 + (i + 1) * 3.0 / 585
        stats._times.append(now[0])
    assert stats.recent_rate() == pytest.approx(195, rel=0.01)
    now[0] += 20  # idle for 20 s: nothing finished in the window
    assert stats.recent_rate() == 0
    stats.end_run()
    assert not stats.running and stats.recent_rate() == 0


async def test_batches_never_exceed_their_size_under_slow_commits(
    manager: SessionManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow disk: each commit takes 1 s while workers keep finishing pages. No batch exceeds
    BATCH_SIZE and what is gathered behind a commit stays under it: the refetch bound."""
    sizes: list[int] = []
    behind: list[int] = []
    crawlers: list[Any] = []
    original = Store.checkpoint

    async def slow_checkpoint(self: Store, session_id: str, results: Any, *a: Any, **k: Any) -> int:
        sizes.append(len(results))
        await asyncio.sleep(1.0 if results else 0)
        if crawlers:
            behind.append(len(crawlers[0]._batch))
        return await original(self, session_id, results, *a, **k)

    monkeypatch.setattr(Store, "checkpoint", slow_checkpoint)
    server = SiteServer(generated_site(2000, filler=5)).start()
    try:
        session = await manager.create(
            CrawlConfig(target_url=server.base + "/", concurrency=32, per_host_concurrency=32)
        )
        handle = await manager.start(session.id)
        crawlers.append(handle._runner.crawler)
        assert await asyncio.wait_for(handle.wait(), 240) is Status.COMPLETED
        assert max(sizes) <= BATCH_SIZE, max(sizes)
        assert max(behind) <= BATCH_SIZE, max(behind)
        assert max(sizes) > BATCH_SIZE // 2  # the commits were slow enough to matter
        assert_store_invariants(manager.data_dir)
    finally:
        server.stop()


async def test_memory_error_stops_resumably(
    manager: SessionManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = fetch_pool.FetchPool.fetch
    calls = [0]

    async def fetch(
        self: fetch_pool.FetchPool, request: PageRequest, hop_check: HopCheck
    ) -> FetchedPage:
        calls[0] += 1
        if calls[0] == 5:
            raise MemoryError
        return await original(self, request, hop_check)

    monkeypatch.setattr(fetch_pool.FetchPool, "fetch", fetch)
    server = SiteServer(generated_site(60)).start()
    try:
        session_id, status = await run_crawl(manager, server.base + "/", concurrency=2)
        assert status is Status.INTERRUPTED
        record = await manager.get(session_id)
        assert record.error and "out of memory" in record.error and "\n" not in record.error
        counts = await manager.store.page_counts(session_id)
        assert counts[PageStatus.FAILED] == 0  # the page was not charged
        monkeypatch.setattr(fetch_pool.FetchPool, "fetch", original)
        handle = await manager.start(session_id)
        assert await handle.wait() is Status.COMPLETED
        assert (await manager.store.page_counts(session_id))[PageStatus.DONE] == 60
    finally:
        server.stop()


async def test_no_parse_worker_can_start_stops_resumably(
    manager: SessionManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_descriptors(*_args: object) -> object:
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(fetch_pool, "_start_process", no_descriptors)
    server = SiteServer(generated_site(20)).start()
    try:
        session_id, status = await run_crawl(manager, server.base + "/")
        assert status is Status.INTERRUPTED
        record = await manager.get(session_id)
        assert record.error and "fetch worker" in record.error
        assert (await manager.store.page_counts(session_id))[PageStatus.FAILED] == 0
    finally:
        server.stop()


def test_capped_concurrency_by_descriptor_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from tui_scraper.engine import limits

    monkeypatch.setattr(limits, "open_files_limit", lambda: 64)
    capped, limit = limits.capped_concurrency(64, 2)
    assert limit == 64 and 1 <= capped < 16
    monkeypatch.setattr(limits, "open_files_limit", lambda: None)
    assert limits.capped_concurrency(64, 2) == (64, None)


def test_our_faults_are_told_from_the_pages() -> None:
    from tui_scraper.backends.sqlite import StorageUnavailable
    from tui_scraper.engine.faults import is_our_fault, is_resource_exhaustion
    from tui_scraper.engine.fetch import FetchError

    for ours in (
        MemoryError(),
        OSError(errno.EMFILE, "Too many open files"),
        OSError(errno.ENOENT, "No such file or directory"),
        OSError(errno.ENOTDIR, "Not a directory"),
        OSError(errno.EROFS, "Read-only file system"),
        StorageUnavailable("disk full"),
        parse.ParseWorkerUnavailable("cannot start a fetch worker"),
        RuntimeError("can't start new thread"),
    ):
        assert is_our_fault(ours), ours
    assert not is_our_fault(ValueError("a bug")) and not is_our_fault(parse.ParseTimeout("slow"))
    refused = FetchError("connect", "Connection refused", transient=True)
    emfile = FetchError("connect", "Cannot connect: [Errno 24] Too many open files", transient=True)
    assert is_resource_exhaustion(emfile) and not is_resource_exhaustion(refused)
