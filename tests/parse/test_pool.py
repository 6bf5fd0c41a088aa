"""The parse of a crawl without fetch workers (`parse_workers=0`): in a thread, under a deadline.

The hazards of parsing in worker processes (hostile HTML, crashes, exception types, names that
never escape) are tested on the fetch pool: tests/engine/test_fetch_pool_hazards.py.
"""

from __future__ import annotations

import asyncio
import errno
import time
from pathlib import Path

import pytest

from tests.engine.site import SiteServer, generated_site
from tui_scraper.backends.sqlite.blobs import BLOBS_DIRNAME, BlobStore
from tui_scraper.domain import CrawlConfig, PageStatus, Status
from tui_scraper.engine import parse
from tui_scraper.engine.parse import PageJob, ParseError, ParseTimeout, ProcessedPage, process_page
from tui_scraper.engine.parse_pool import ParsePool
from tui_scraper.engine.urls import Scope
from tui_scraper.ports import BlobWriter
from tui_scraper.runtime.manager import SessionManager

SCOPE = Scope.build("http://example.com/")
NORMAL = (
    "<html><head><title>ok</title></head><body>"
    + "".join(f'<a href="/p{i}">p{i}</a> words ' for i in range(25))
    + "<p>text</p>" * 200
    + "</body></html>"
).encode()


def make_job(body: bytes, url: str = "http://example.com/") -> PageJob:
    return PageJob(url=url, depth=0, body=body, charset=None, is_html=True, rules=(), scope=SCOPE)


async def test_in_process_mode(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / BLOBS_DIRNAME)
    pool = ParsePool(workers=0, blobs=blobs)
    result = await pool.process(make_job(NORMAL))
    assert result == process_page(make_job(NORMAL), blobs)
    assert result.storage_path is not None and blobs.read(result.storage_path) == NORMAL
    await pool.aclose()


async def test_in_process_mode_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(job: PageJob, blobs: BlobWriter | None = None) -> ProcessedPage:
        time.sleep(0.5)
        raise AssertionError("not reached in time")

    monkeypatch.setattr(parse, "process_page", slow)
    pool = ParsePool(workers=0, deadline=0.1)
    with pytest.raises(ParseTimeout, match=r"example\.com"):
        await pool.process(make_job(NORMAL))
    assert pool.timeouts == 1


async def test_exceptions_keep_their_type(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_bytes(b"")
    pool = ParsePool(workers=0, blobs=BlobStore(not_a_dir / BLOBS_DIRNAME))
    with pytest.raises(OSError) as raised:
        await pool.process(make_job(NORMAL))
    assert raised.value.errno == errno.ENOTDIR


async def test_aclose_refuses_work() -> None:
    pool = ParsePool(workers=0)
    await pool.aclose()
    with pytest.raises(ParseError, match="closed"):
        await pool.process(make_job(NORMAL))
    await pool.aclose()  # twice is fine


def test_worker_processes_are_the_fetch_pools() -> None:
    with pytest.raises(ValueError, match="fetch workers"):
        ParsePool(workers=2)


async def test_a_crawl_without_fetch_workers_parses_in_the_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`parse_workers=0`: the whole crawl in this process, every page parsed through ParsePool."""
    parsed: list[str] = []
    real = ParsePool.process

    async def spy(self: ParsePool, job: PageJob) -> ProcessedPage:
        parsed.append(job.url)
        return await real(self, job)

    monkeypatch.setattr(ParsePool, "process", spy)
    server = SiteServer(generated_site(30)).start()
    manager = await SessionManager.open(tmp_path / "d", who="test")
    try:
        manager.parse_workers = 0
        session = await manager.create(CrawlConfig(target_url=server.base + "/"))
        handle = await manager.start(session.id)
        assert await asyncio.wait_for(handle.wait(), 120) is Status.COMPLETED
        counts = await manager.store.page_counts(session.id)
        assert counts[PageStatus.DONE] == 30
        assert sorted(parsed) == sorted(set(parsed)) and len(parsed) == 30
    finally:
        await manager.close()
        server.stop()
