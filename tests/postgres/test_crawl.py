"""The real engine on the PostgreSQL store: a session crawled to completion by SessionRunner, its
fetch workers writing the content from their own processes, every page fetched and stored once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.site import SiteServer, generated_site
from tui_scraper.backends.postgres import Store
from tui_scraper.domain import CrawlConfig, PageStatus, Status
from tui_scraper.runtime.secrets import DataDirSecrets
from tui_scraper.runtime.worker import SessionRunner

from .helpers import sql

PAGES = 150


@pytest.fixture
def site() -> Iterator[SiteServer]:
    server = SiteServer(generated_site(PAGES)).start()
    yield server
    server.stop()


async def test_a_session_crawled_on_postgres_stores_every_page_once(
    pg_url: str, site: SiteServer, tmp_path: Path
) -> None:
    store = await Store.open(pg_url)
    try:
        config = CrawlConfig(target_url=site.base + "/", concurrency=4, per_host_concurrency=4)
        session_id = (await store.create_session(config, who="test")).id
        runner = await SessionRunner.acquire(
            store, session_id, who="test", secrets=DataDirSecrets(tmp_path), parse_workers=1
        )
        assert await runner.run() is Status.COMPLETED
        counts = await store.page_counts(session_id)
        assert counts[PageStatus.DONE] == PAGES and sum(counts.values()) == PAGES
        hits = {p: n for p, n in site.hits().items() if p != "/robots.txt"}
        assert len(hits) == PAGES and set(hits.values()) == {1}
        async for page in store.iter_pages(session_id):
            assert page.storage_path is not None
            assert page.title is not None and page.title.encode() in store.blobs.read(
                page.storage_path
            )
        record = await store.get_session(session_id)
        assert record.progress.done == PAGES and record.lease_owner is None
        assert sql(pg_url, "SELECT count(*) FROM pages WHERE lease_owner IS NOT NULL") == [(0,)]
    finally:
        await store.close()
