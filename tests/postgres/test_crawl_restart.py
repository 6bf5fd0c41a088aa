"""The database restarted in the middle of a real crawl: the coordinator and the fetch workers
wait for it and carry on, or stop resumably and a resume carries on; either way the session
completes with every page stored once and nothing lost."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.site import SiteServer, generated_site
from tests.pg_server import PgServer
from tui_scraper.backends.postgres import Store
from tui_scraper.domain import CrawlConfig, PageStatus, Status
from tui_scraper.runtime.secrets import DataDirSecrets
from tui_scraper.runtime.worker import SessionRunner

PAGES = 400


@pytest.fixture
def site() -> Iterator[SiteServer]:
    server = SiteServer(generated_site(PAGES)).start()
    yield server
    server.stop()


async def test_a_restart_mid_crawl_is_waited_out_and_nothing_is_lost(
    pg_server: PgServer, pg_url: str, site: SiteServer, tmp_path: Path
) -> None:
    store = await Store.open(pg_url)
    try:
        config = CrawlConfig(target_url=site.base + "/", concurrency=4, per_host_concurrency=4)
        session_id = (await store.create_session(config, who="test")).id
        runner = await SessionRunner.acquire(
            store, session_id, who="test", secrets=DataDirSecrets(tmp_path), parse_workers=1
        )
        crawl = asyncio.create_task(runner.run())
        async with asyncio.timeout(120):
            while runner.stats.progress.done < 40:
                assert not crawl.done(), "the crawl ended before the restart"
                await asyncio.sleep(0.01)
        await asyncio.to_thread(pg_server.restart)
        ended = await asyncio.wait_for(crawl, 180)
        # Either outcome the design allows: the crawl waited the restart out, or it stopped
        # resumably (a write that is not safe to repeat met the restart) and a resume finishes it.
        assert ended in (Status.COMPLETED, Status.INTERRUPTED), ended
        if ended is Status.INTERRUPTED:
            again = await SessionRunner.acquire(
                store, session_id, who="test", secrets=DataDirSecrets(tmp_path), parse_workers=1
            )
            assert await asyncio.wait_for(again.run(), 180) is Status.COMPLETED
        counts = await store.page_counts(session_id)
        assert counts[PageStatus.DONE] == PAGES and sum(counts.values()) == PAGES
        hits = {p: n for p, n in site.hits().items() if p != "/robots.txt"}
        assert len(hits) == PAGES
        # Refetches are bounded by what was in flight when the connections were cut.
        assert sum(hits.values()) - PAGES <= config.concurrency + 300
        async for page in store.iter_pages(session_id):
            assert page.storage_path is not None and store.blobs.read(page.storage_path)
    finally:
        await store.close()
