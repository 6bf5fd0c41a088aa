"""Several workers on one PostgreSQL session (each a Store of its own, as in separate
processes): the owner that started it and the workers that joined crawl one frontier, every page
is fetched and stored once, and the session completes exactly once, by the last worker out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.site import SiteServer, generated_site
from tui_scraper.backends.postgres import Store
from tui_scraper.domain import CrawlConfig, InvalidTransition, PageStatus, Status
from tui_scraper.runtime.secrets import DataDirSecrets
from tui_scraper.runtime.worker import SessionRunner

from .helpers import config, owner, sql

PAGES = 2000


@pytest.fixture
def site() -> Iterator[SiteServer]:
    server = SiteServer(generated_site(PAGES)).start()
    yield server
    server.stop()


async def _crawl_with(pg_url: str, site: SiteServer, tmp_path: Path, joined: int) -> str:
    import asyncio

    stores = [await Store.open(pg_url) for _ in range(joined + 1)]
    try:
        cfg = CrawlConfig(target_url=site.base + "/", concurrency=8, per_host_concurrency=8)
        session_id = (await stores[0].create_session(cfg, who="test")).id
        secrets = DataDirSecrets(tmp_path)
        first = await SessionRunner.acquire(
            stores[0], session_id, who="owner", secrets=secrets, parse_workers=1
        )
        others = [
            await SessionRunner.join(
                store, session_id, who=f"joined{i}", secrets=secrets, parse_workers=1
            )
            for i, store in enumerate(stores[1:])
        ]
        statuses = await asyncio.gather(first.run(), *(r.run() for r in others))
        # Exactly one of them completed the session; the others left it running to them.
        assert sorted(s.value for s in statuses) == sorted(["completed"] + ["running"] * joined), (
            statuses
        )
        counts = await stores[0].page_counts(session_id)
        assert counts[PageStatus.DONE] == PAGES and sum(counts.values()) == PAGES
        hits = {p: n for p, n in site.hits().items() if p != "/robots.txt"}
        assert len(hits) == PAGES and set(hits.values()) == {1}
        record = await stores[0].get_session(session_id)
        assert record.status is Status.COMPLETED
        assert sql(pg_url, "SELECT pages_total FROM sessions WHERE id = %s", (session_id,)) == [
            (PAGES,)
        ]
        assert record.progress.done == PAGES and record.summary is not None
        finals = [e for e in await stores[0].events(session_id) if e.to_status is not None]
        assert [e.to_status for e in finals].count(Status.COMPLETED) == 1
        assert sql(pg_url, "SELECT count(*) FROM session_workers") == [(0,)]
        assert sql(pg_url, "SELECT count(*) FROM pages WHERE lease_owner IS NOT NULL") == [(0,)]
        return session_id
    finally:
        for store in stores:
            await store.close()


async def test_two_workers_crawl_one_session_each_page_once(
    pg_url: str, site: SiteServer, tmp_path: Path
) -> None:
    await _crawl_with(pg_url, site, tmp_path, joined=1)


async def test_three_workers_crawl_one_session_each_page_once(
    pg_url: str, site: SiteServer, tmp_path: Path
) -> None:
    await _crawl_with(pg_url, site, tmp_path, joined=2)


async def test_joining_a_session_nobody_runs_is_refused(pg_url: str) -> None:
    store = await Store.open(pg_url)
    try:
        session_id = (await store.create_session(config(), who="test")).id
        with pytest.raises(InvalidTransition):
            await store.join_run(session_id, owner(), who="test")
        assert sql(pg_url, "SELECT count(*) FROM session_workers") == [(0,)]
    finally:
        await store.close()


async def test_the_last_worker_out_finishes_and_a_live_ones_claims_stay(pg_url: str) -> None:
    """conclude_run under the session row's lock: with another live worker it leaves, and the
    other's claims are not requeued; the last one with an empty frontier finishes."""
    a, b = await Store.open(pg_url), await Store.open(pg_url)
    try:
        session_id = (await a.create_session(config(), who="test")).id
        await a.acquire_run(session_id, owner("a"), who="test", reason="started")
        await b.join_run(session_id, owner("b"), who="test")
        held = await b.claim_batch(session_id, 10, 0.0)
        assert len(held) == 1  # the seed
        assert await a.requeue_fetching(session_id) == 0  # b is alive: its claim stays
        assert await a.conclude_run(session_id) == "leave"
        assert await a.lease_holder(session_id) is not None  # b runs it now
        assert (await a.get_session(session_id)).status is Status.RUNNING
        assert await b.conclude_run(session_id) == "more"  # its own claim is back in the queue
        assert await b.page_counts(session_id) == {
            **dict.fromkeys(PageStatus, 0),
            PageStatus.QUEUED: 1,
        }
    finally:
        await a.close()
        await b.close()


async def test_a_pause_record_nobody_applies_is_applied_by_a_joined_worker(
    pg_url: str, site: SiteServer, tmp_path: Path
) -> None:
    """The owner holds the session but applies no control record (it left, or cannot): a
    joined worker applies the pause once it waited CONTROL_TAKEOVER_S for the owner."""
    a, b = await Store.open(pg_url), await Store.open(pg_url)
    try:
        cfg = CrawlConfig(target_url=site.base + "/", concurrency=4, rate_per_host=20.0)
        session_id = (await a.create_session(cfg, who="test")).id
        await a.acquire_run(session_id, owner("a"), who="test", reason="started")
        joined = await SessionRunner.join(
            b, session_id, who="joined", secrets=DataDirSecrets(tmp_path), parse_workers=0
        )
        record = await a.post_control(session_id, "pause", who="cli:1")
        assert await joined.run() is Status.PAUSED
        assert (await a.get_session(session_id)).status is Status.PAUSED
        assert (await a.get_control(record.id)).applied_at is not None
        assert sql(pg_url, "SELECT count(*) FROM pages WHERE status = 'fetching'") == [(0,)]
        done = sql(pg_url, "SELECT count(*) FROM pages WHERE status = 'done'")[0][0]
        assert 0 < done < PAGES  # it crawled until the pause, then stopped
    finally:
        await a.close()
        await b.close()
