"""A store operation cancelled at any moment (a crawl stopped mid-checkpoint) commits whole or
not at all, and leaves the pool's connections fit for the next operation."""

from __future__ import annotations

import asyncio
import random

from tui_scraper.backends.postgres import Store
from tui_scraper.domain import DiscoveredLink, PageResult, PageStatus, Progress, Status

from .helpers import SITE, config, sql


async def test_checkpoints_cancelled_at_random_moments_commit_whole_or_not_at_all(
    pg_url: str,
) -> None:
    store = await Store.open(pg_url)
    rng = random.Random(15)
    try:
        record = await store.create_session(config(), who="t")
        await store.transition(record.id, Status.RUNNING, reason="go", who="t")
        [seed] = await store.claim_batch(record.id, 1, now=0)
        first = [DiscoveredLink(f"{SITE}/p{i}", 1, seed.id) for i in range(60)]
        done = PageResult(
            page_id=seed.id, url=seed.url, status=PageStatus.DONE, attempts=1, links=first
        )
        await store.checkpoint(record.id, [done], Progress(), heartbeat=1)
        cancelled = 0
        for round_no in range(30):
            batch = await store.claim_batch(record.id, 2, now=0)
            if not batch:
                break
            results = [
                PageResult(
                    page_id=page.id,
                    url=page.url,
                    status=PageStatus.DONE,
                    attempts=1,
                    links=[DiscoveredLink(f"{page.url}/c{j}", 2, page.id) for j in range(20)],
                )
                for page in batch
            ]
            task = asyncio.create_task(
                store.checkpoint(record.id, results, Progress(), heartbeat=2 + round_no)
            )
            await asyncio.sleep(rng.uniform(0, 0.004))
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                cancelled += 1
            # Whole or nothing: each page is done with all its links, or still claimed with none.
            for page in batch:
                status = await store.page_status(record.id, page.url)
                children = await store.page_status(record.id, f"{page.url}/c19")
                if status is PageStatus.DONE:
                    assert children is PageStatus.QUEUED
                else:
                    assert status is PageStatus.FETCHING and children is None
        assert cancelled > 0
        [(rows,)] = sql(pg_url, "SELECT count(*) FROM pages")
        [(total,)] = sql(pg_url, "SELECT pages_total FROM sessions")
        assert rows == total  # the counter moved with every commit and with nothing else
        assert await store.requeue_fetching(record.id) >= 0  # the pool still works
    finally:
        await store.close()
