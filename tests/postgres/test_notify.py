"""LISTEN/NOTIFY: a checkpoint wakes a watcher in another connection (a hint; it then reads the
tables)."""

from __future__ import annotations

import asyncio

from tui_scraper.backends.postgres import Store
from tui_scraper.domain import PageResult, PageStatus, Progress, Status

from .helpers import config


async def test_a_checkpoint_wakes_a_watcher_of_its_session(pg_url: str) -> None:
    store = await Store.open(pg_url)
    watcher = await Store.open(pg_url, readonly=True)
    try:
        record = await store.create_session(config(), who="t")
        await store.transition(record.id, Status.RUNNING, reason="go", who="t")
        [seed] = await store.claim_batch(record.id, 1, now=0)
        assert await watcher.wait_for_change(record.id, timeout=0.2) is False  # nothing yet
        waiting = asyncio.create_task(watcher.wait_for_change(record.id, timeout=30))
        result = PageResult(page_id=seed.id, url=seed.url, status=PageStatus.DONE, attempts=1)
        while not waiting.done():  # LISTEN may not be in place yet: commit until it is seen
            await store.checkpoint(record.id, [result], Progress(done=1), heartbeat=1)
            await asyncio.wait([waiting], timeout=0.1)
        assert waiting.result() is True
        assert (await watcher.get_session(record.id)).progress.done == 1
    finally:
        await watcher.close()
        await store.close()
